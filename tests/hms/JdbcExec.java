// Tiny JDBC runner used by hms.py (run as a single-file source program, no build step):
//   java -cp DRIVER.jar JdbcExec.java URL USER PASSWORD < statements
// Statements come on stdin separated by lines holding only ";;". Each result set is printed as
// one JSON array of rows (each row an array of strings or null) per line; update counts as a
// number. Exit code 1 with the SQL error on stderr on the first failure.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.util.*;

public class JdbcExec {
    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    public static void main(String[] a) throws Exception {
        String all = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        List<String> stmts = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (String line : all.split("\n", -1)) {
            if (line.trim().equals(";;")) { if (!cur.toString().isBlank()) stmts.add(cur.toString()); cur.setLength(0); }
            else cur.append(line).append('\n');
        }
        if (!cur.toString().isBlank()) stmts.add(cur.toString());
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
            c.setAutoCommit(true);
            for (String sql : stmts) {
                try (Statement st = c.createStatement()) {
                    if (st.execute(sql)) {
                        try (ResultSet rs = st.getResultSet()) {
                            int n = rs.getMetaData().getColumnCount();
                            StringBuilder b = new StringBuilder("[");
                            boolean first = true;
                            while (rs.next()) {
                                if (!first) b.append(',');
                                first = false;
                                b.append('[');
                                for (int i = 1; i <= n; i++) { if (i > 1) b.append(','); b.append(q(rs.getString(i))); }
                                b.append(']');
                            }
                            out.println(b.append(']'));
                        }
                    } else {
                        out.println(st.getUpdateCount());
                    }
                } catch (SQLException e) {
                    System.err.println("SQL failed: " + e.getMessage() + "\n  statement: " + sql.trim());
                    System.exit(1);
                }
            }
        } catch (SQLException e) {
            System.err.println("cannot connect to " + a[0] + ": " + e.getMessage());
            System.exit(1);
        }
    }
}
