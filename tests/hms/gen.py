#!/usr/bin/env python3
"""Synthetic Hive Metastore generator for tandem's tests.

Creates, in an EMPTY MariaDB/MySQL or PostgreSQL database, the Hive Metastore schema of a chosen
layout (2.3 / 3.1 / 4.0, as Hive's own schema scripts lay it out on that engine) and fills it with
content, fast: rows are generated into TSV files in a temp dir, then bulk-loaded, one load per
table (`LOAD DATA LOCAL INFILE` via `mariadb --local-infile=1`, `\\copy` via `psql`); secondary
indexes, unique keys, checks and foreign keys are created after the load.

    python3 tests/hms/gen.py --url mysql://U:P@127.0.0.1:PORT/DB --layout 3.1 --sample retail
    python3 tests/hms/gen.py --url postgres://U:P@127.0.0.1:PORT/DB --layout 4.0 \\
        --databases 10 --tables 500 --partitions 1000000

Prints one JSON object on stdout; errors: exit 1 with `gen.py: error: ...` on stderr.
Plain python3 (stdlib only); talks to the databases only through the `mariadb`/`psql` clients.
See tests/hms/README.md ("gen.py").
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import date, timedelta

LAYOUTS = {"2.3": 23, "3.1": 31, "4.0": 40}
SCHEMA_VERSION = {23: "2.3.0", 31: "3.1.0", 40: "4.0.0"}

# ---------------------------------------------------------------------------------------------
# Schema. Our own compact description of the tables Hive's schema scripts create
# (metastore/scripts/upgrade/{mysql,postgres}/hive-schema-2.3.0.*.sql + hive-txn-schema-2.3.0,
# standalone-metastore/.../hive-schema-3.1.0.*.sql and hive-schema-4.0.0.*.sql), rendered for
# both dialects.
#
#   TABLE name [v=RANGE] [pglower=RANGE]     RANGE: 23, 31, 40, "31-" (3.1 and later), "-31"
#   COLUMN TYPE [flags]                       flags: n (NOT NULL), n=m / n=p (only on that engine),
#                                             d=DEFAULT (d=M|P per engine), ai (auto-increment /
#                                             serial), v=RANGE
#   PK cols [v=] [pg=NAME]                    PostgreSQL name defaults to <table>_pkey
#   UK NAME cols [e=m|p] [pg=index] [pgname=] [v=]   unique key (PostgreSQL: a constraint, or a
#                                             unique index with pg=index)
#   IX NAME cols [e=] [using=hash] [pgname=] [v=]
#   FK MYSQLNAME PGNAME cols > TABLE(cols) [nodefer] [cascade] [v=]   (- = let the engine name it)
#   CHECK NAME expression... [v=]
#   PGORDER cols                              column order on PostgreSQL where it differs
#
# Types (MySQL / PostgreSQL): B bigint/bigint, I int/bigint, i int/integer, S smallint/smallint,
# Z bit(1)/boolean, BOOL boolean/boolean, C char(1), T mediumtext/text, L longtext/text,
# X text/text, Y blob/bytea, D double(53,4)/double precision, d double/double precision,
# TS timestamp, Vn varchar(n)/character varying(n), VBn varbinary(n)/bytea; "A|B" = A on MySQL,
# B on PostgreSQL.
# pglower: on PostgreSQL the table is created unquoted, i.e. lower-case table, column and index
# names (Hive's 2.3/3.1 PostgreSQL scripts do that for the ACID tables).
# ---------------------------------------------------------------------------------------------

SCHEMA = r"""
TABLE VERSION
  VER_ID B n
  SCHEMA_VERSION V127 n
  VERSION_COMMENT V255 n=p
  PK VER_ID

TABLE CTLGS v=31-
  CTLG_ID B n
  NAME V256
  DESC V4000
  LOCATION_URI V4000 n
  CREATE_TIME I v=40
  PK CTLG_ID
  UK UNIQUE_CATALOG NAME pgname=CTLGS_NAME_key

TABLE DBS
  DB_ID B n
  DESC V4000
  DB_LOCATION_URI V4000 n
  NAME V128
  OWNER_NAME V128
  OWNER_TYPE V10
  CTLG_NAME V256 n=m d='hive' v=31
  CTLG_NAME V256 n d='hive' v=40
  CREATE_TIME I v=40
  DB_MANAGED_LOCATION_URI V4000 v=40
  TYPE V32 n d='NATIVE' v=40
  DATACONNECTOR_NAME V128 v=40
  REMOTE_DBNAME V128 v=40
  PK DB_ID
  UK UNIQUE_DATABASE NAME v=23
  UK UNIQUE_DATABASE NAME CTLG_NAME v=31-
  FK CTLG_FK1 DBS_FK1 CTLG_NAME > CTLGS(NAME) nodefer v=31-

TABLE DATABASE_PARAMS
  DB_ID B n
  PARAM_KEY V180 n
  PARAM_VALUE V4000
  PK DB_ID PARAM_KEY
  IX DATABASE_PARAMS_N49 DB_ID
  FK DATABASE_PARAMS_FK1 DATABASE_PARAMS_DB_ID_fkey DB_ID > DBS(DB_ID)

TABLE DB_PRIVS
  DB_GRANT_ID B n
  CREATE_TIME I n
  DB_ID B
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  DB_PRIV V128
  AUTHORIZER V128 v=31-
  PK DB_GRANT_ID
  UK DBPRIVILEGEINDEX DB_ID PRINCIPAL_NAME PRINCIPAL_TYPE DB_PRIV GRANTOR GRANTOR_TYPE v=23
  UK DBPRIVILEGEINDEX AUTHORIZER DB_ID PRINCIPAL_NAME PRINCIPAL_TYPE DB_PRIV GRANTOR GRANTOR_TYPE v=31-
  IX DB_PRIVS_N49 DB_ID
  FK DB_PRIVS_FK1 DB_PRIVS_DB_ID_fkey DB_ID > DBS(DB_ID)

TABLE GLOBAL_PRIVS
  USER_GRANT_ID B n
  CREATE_TIME I n
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  USER_PRIV V128
  AUTHORIZER V128 v=31-
  PK USER_GRANT_ID
  UK GLOBALPRIVILEGEINDEX PRINCIPAL_NAME PRINCIPAL_TYPE USER_PRIV GRANTOR GRANTOR_TYPE v=23
  UK GLOBALPRIVILEGEINDEX AUTHORIZER PRINCIPAL_NAME PRINCIPAL_TYPE USER_PRIV GRANTOR GRANTOR_TYPE v=31-

TABLE ROLES
  ROLE_ID B n
  CREATE_TIME I n
  OWNER_NAME V128
  ROLE_NAME V128
  PK ROLE_ID
  UK ROLEENTITYINDEX ROLE_NAME

TABLE ROLE_MAP
  ROLE_GRANT_ID B n
  ADD_TIME I n
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  ROLE_ID B
  PK ROLE_GRANT_ID
  UK USERROLEMAPINDEX PRINCIPAL_NAME ROLE_ID GRANTOR GRANTOR_TYPE
  IX ROLE_MAP_N49 ROLE_ID
  FK ROLE_MAP_FK1 ROLE_MAP_ROLE_ID_fkey ROLE_ID > ROLES(ROLE_ID)

TABLE SERDES
  SERDE_ID B n
  NAME V128
  SLIB V4000
  DESCRIPTION V4000 v=31-
  SERIALIZER_CLASS V4000 v=31-
  DESERIALIZER_CLASS V4000 v=31-
  SERDE_TYPE i v=31-
  PK SERDE_ID

TABLE SERDE_PARAMS
  SERDE_ID B n
  PARAM_KEY V256 n
  PARAM_VALUE T
  PK SERDE_ID PARAM_KEY
  IX SERDE_PARAMS_N49 SERDE_ID
  FK SERDE_PARAMS_FK1 SERDE_PARAMS_SERDE_ID_fkey SERDE_ID > SERDES(SERDE_ID)

TABLE CDS
  CD_ID B n
  PK CD_ID

TABLE COLUMNS_V2
  CD_ID B n
  COMMENT V256|V4000 v=-31
  COMMENT V4000 v=40
  COLUMN_NAME V767 n
  TYPE_NAME T
  INTEGER_IDX i n
  PK CD_ID COLUMN_NAME
  IX COLUMNS_V2_N49 CD_ID e=m
  FK COLUMNS_V2_FK1 COLUMNS_V2_CD_ID_fkey CD_ID > CDS(CD_ID)

TABLE SDS
  SD_ID B n
  CD_ID B
  INPUT_FORMAT V4000
  IS_COMPRESSED Z n
  IS_STOREDASSUBDIRECTORIES Z n
  LOCATION V4000
  NUM_BUCKETS I n
  OUTPUT_FORMAT V4000
  SERDE_ID B
  PGORDER SD_ID INPUT_FORMAT IS_COMPRESSED LOCATION NUM_BUCKETS OUTPUT_FORMAT SERDE_ID CD_ID IS_STOREDASSUBDIRECTORIES
  PK SD_ID
  IX SDS_N49 SERDE_ID
  IX SDS_N50 CD_ID e=m
  IX SDS_N50 CD_ID e=p v=40
  FK SDS_FK1 SDS_SERDE_ID_fkey SERDE_ID > SERDES(SERDE_ID)
  FK SDS_FK2 SDS_CD_ID_fkey CD_ID > CDS(CD_ID)

TABLE SD_PARAMS
  SD_ID B n
  PARAM_KEY V256 n
  PARAM_VALUE T
  PK SD_ID PARAM_KEY
  IX SD_PARAMS_N49 SD_ID
  FK SD_PARAMS_FK1 SD_PARAMS_SD_ID_fkey SD_ID > SDS(SD_ID)

TABLE BUCKETING_COLS
  SD_ID B n
  BUCKET_COL_NAME V256
  INTEGER_IDX I n
  PK SD_ID INTEGER_IDX
  IX BUCKETING_COLS_N49 SD_ID
  FK BUCKETING_COLS_FK1 BUCKETING_COLS_SD_ID_fkey SD_ID > SDS(SD_ID)

TABLE SORT_COLS
  SD_ID B n
  COLUMN_NAME V767
  ORDER I n
  INTEGER_IDX I n
  PK SD_ID INTEGER_IDX
  IX SORT_COLS_N49 SD_ID
  FK SORT_COLS_FK1 SORT_COLS_SD_ID_fkey SD_ID > SDS(SD_ID)

TABLE SKEWED_STRING_LIST
  STRING_LIST_ID B n
  PK STRING_LIST_ID

TABLE SKEWED_STRING_LIST_VALUES
  STRING_LIST_ID B n
  STRING_LIST_VALUE V256
  INTEGER_IDX I n
  PK STRING_LIST_ID INTEGER_IDX
  IX SKEWED_STRING_LIST_VALUES_N49 STRING_LIST_ID e=m
  FK SKEWED_STRING_LIST_VALUES_FK1 SKEWED_STRING_LIST_VALUES_fkey STRING_LIST_ID > SKEWED_STRING_LIST(STRING_LIST_ID)

TABLE SKEWED_COL_NAMES
  SD_ID B n
  SKEWED_COL_NAME V256
  INTEGER_IDX I n
  PK SD_ID INTEGER_IDX
  IX SKEWED_COL_NAMES_N49 SD_ID e=m
  FK SKEWED_COL_NAMES_FK1 SKEWED_COL_NAMES_fkey SD_ID > SDS(SD_ID)

TABLE SKEWED_VALUES
  SD_ID_OID B n
  STRING_LIST_ID_EID B n
  INTEGER_IDX I n
  PK SD_ID_OID INTEGER_IDX
  IX SKEWED_VALUES_N50 SD_ID_OID e=m
  IX SKEWED_VALUES_N49 STRING_LIST_ID_EID e=m
  FK SKEWED_VALUES_FK2 SKEWED_VALUES_fkey1 STRING_LIST_ID_EID > SKEWED_STRING_LIST(STRING_LIST_ID)
  FK SKEWED_VALUES_FK1 SKEWED_VALUES_fkey2 SD_ID_OID > SDS(SD_ID)

TABLE SKEWED_COL_VALUE_LOC_MAP
  SD_ID B n
  STRING_LIST_ID_KID B n
  LOCATION V4000
  PK SD_ID STRING_LIST_ID_KID
  IX SKEWED_COL_VALUE_LOC_MAP_N49 STRING_LIST_ID_KID e=m
  IX SKEWED_COL_VALUE_LOC_MAP_N50 SD_ID e=m
  FK SKEWED_COL_VALUE_LOC_MAP_FK2 SKEWED_COL_VALUE_LOC_MAP_fkey2 STRING_LIST_ID_KID > SKEWED_STRING_LIST(STRING_LIST_ID)
  FK SKEWED_COL_VALUE_LOC_MAP_FK1 SKEWED_COL_VALUE_LOC_MAP_fkey1 SD_ID > SDS(SD_ID)

TABLE TBLS
  TBL_ID B n
  CREATE_TIME I n
  DB_ID B
  LAST_ACCESS_TIME I n
  OWNER V767
  OWNER_TYPE V10 v=31-
  RETENTION I n
  SD_ID B
  TBL_NAME V256
  TBL_TYPE V128
  VIEW_EXPANDED_TEXT T
  VIEW_ORIGINAL_TEXT T
  IS_REWRITE_ENABLED Z n v=23
  IS_REWRITE_ENABLED Z n d=0|false v=31-
  WRITE_ID B d=0 v=40
  PK TBL_ID
  UK UNIQUETABLE TBL_NAME DB_ID
  IX TBLS_N50 SD_ID
  IX TBLS_N49 DB_ID
  FK TBLS_FK1 TBLS_SD_ID_fkey SD_ID > SDS(SD_ID)
  FK TBLS_FK2 TBLS_DB_ID_fkey DB_ID > DBS(DB_ID)

TABLE TABLE_PARAMS
  TBL_ID B n
  PARAM_KEY V256 n
  PARAM_VALUE T
  PK TBL_ID PARAM_KEY
  IX TABLE_PARAMS_N49 TBL_ID
  FK TABLE_PARAMS_FK1 TABLE_PARAMS_TBL_ID_fkey TBL_ID > TBLS(TBL_ID)

TABLE TBL_PRIVS
  TBL_GRANT_ID B n
  CREATE_TIME I n
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  TBL_PRIV V128
  TBL_ID B
  AUTHORIZER V128 v=31-
  PK TBL_GRANT_ID
  IX TBL_PRIVS_N49 TBL_ID
  IX TABLEPRIVILEGEINDEX TBL_ID PRINCIPAL_NAME PRINCIPAL_TYPE TBL_PRIV GRANTOR GRANTOR_TYPE v=23
  IX TABLEPRIVILEGEINDEX AUTHORIZER TBL_ID PRINCIPAL_NAME PRINCIPAL_TYPE TBL_PRIV GRANTOR GRANTOR_TYPE v=31-
  FK TBL_PRIVS_FK1 TBL_PRIVS_TBL_ID_fkey TBL_ID > TBLS(TBL_ID)

TABLE TBL_COL_PRIVS
  TBL_COLUMN_GRANT_ID B n
  COLUMN_NAME V767
  CREATE_TIME I n
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  TBL_COL_PRIV V128
  TBL_ID B
  AUTHORIZER V128 v=31-
  PK TBL_COLUMN_GRANT_ID
  IX TABLECOLUMNPRIVILEGEINDEX TBL_ID COLUMN_NAME PRINCIPAL_NAME PRINCIPAL_TYPE TBL_COL_PRIV GRANTOR GRANTOR_TYPE v=23
  IX TABLECOLUMNPRIVILEGEINDEX AUTHORIZER TBL_ID COLUMN_NAME PRINCIPAL_NAME PRINCIPAL_TYPE TBL_COL_PRIV GRANTOR GRANTOR_TYPE v=31-
  IX TBL_COL_PRIVS_N49 TBL_ID
  FK TBL_COL_PRIVS_FK1 TBL_COL_PRIVS_TBL_ID_fkey TBL_ID > TBLS(TBL_ID)

TABLE PARTITION_KEYS
  TBL_ID B n
  PKEY_COMMENT V4000
  PKEY_NAME V128 n
  PKEY_TYPE V767 n
  INTEGER_IDX I n
  PK TBL_ID PKEY_NAME
  IX PARTITION_KEYS_N49 TBL_ID
  FK PARTITION_KEYS_FK1 PARTITION_KEYS_TBL_ID_fkey TBL_ID > TBLS(TBL_ID)

TABLE PARTITIONS
  PART_ID B n
  CREATE_TIME I n
  LAST_ACCESS_TIME I n
  PART_NAME V767
  SD_ID B
  TBL_ID B
  WRITE_ID B d=0 v=40
  PK PART_ID
  UK UNIQUEPARTITION PART_NAME TBL_ID
  IX PARTITIONS_N49 TBL_ID
  IX PARTITIONS_N50 SD_ID
  FK PARTITIONS_FK1 PARTITIONS_TBL_ID_fkey TBL_ID > TBLS(TBL_ID)
  FK PARTITIONS_FK2 PARTITIONS_SD_ID_fkey SD_ID > SDS(SD_ID)

TABLE PARTITION_KEY_VALS
  PART_ID B n
  PART_KEY_VAL V256
  INTEGER_IDX I n
  PK PART_ID INTEGER_IDX
  IX PARTITION_KEY_VALS_N49 PART_ID
  FK PARTITION_KEY_VALS_FK1 PARTITION_KEY_VALS_PART_ID_fkey PART_ID > PARTITIONS(PART_ID)

TABLE PARTITION_PARAMS
  PART_ID B n
  PARAM_KEY V256 n
  PARAM_VALUE V4000 v=-31
  PARAM_VALUE T v=40
  PK PART_ID PARAM_KEY
  IX PARTITION_PARAMS_N49 PART_ID
  FK PARTITION_PARAMS_FK1 PARTITION_PARAMS_PART_ID_fkey PART_ID > PARTITIONS(PART_ID)

TABLE PART_PRIVS
  PART_GRANT_ID B n
  CREATE_TIME I n
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PART_ID B
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  PART_PRIV V128
  AUTHORIZER V128 v=31-
  PK PART_GRANT_ID
  IX PARTPRIVILEGEINDEX PART_ID PRINCIPAL_NAME PRINCIPAL_TYPE PART_PRIV GRANTOR GRANTOR_TYPE v=23
  IX PARTPRIVILEGEINDEX AUTHORIZER PART_ID PRINCIPAL_NAME PRINCIPAL_TYPE PART_PRIV GRANTOR GRANTOR_TYPE v=31-
  IX PART_PRIVS_N49 PART_ID
  FK PART_PRIVS_FK1 PART_PRIVS_PART_ID_fkey PART_ID > PARTITIONS(PART_ID)

TABLE PART_COL_PRIVS
  PART_COLUMN_GRANT_ID B n
  COLUMN_NAME V767
  CREATE_TIME I n
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PART_ID B
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  PART_COL_PRIV V128
  AUTHORIZER V128 v=31-
  PK PART_COLUMN_GRANT_ID
  IX PART_COL_PRIVS_N49 PART_ID
  IX PARTITIONCOLUMNPRIVILEGEINDEX PART_ID COLUMN_NAME PRINCIPAL_NAME PRINCIPAL_TYPE PART_COL_PRIV GRANTOR GRANTOR_TYPE v=23
  IX PARTITIONCOLUMNPRIVILEGEINDEX AUTHORIZER PART_ID COLUMN_NAME PRINCIPAL_NAME PRINCIPAL_TYPE PART_COL_PRIV GRANTOR GRANTOR_TYPE v=31-
  FK PART_COL_PRIVS_FK1 PART_COL_PRIVS_PART_ID_fkey PART_ID > PARTITIONS(PART_ID)

TABLE PARTITION_EVENTS
  PART_NAME_ID B n
  CAT_NAME V256 v=31-
  DB_NAME V128
  EVENT_TIME B n
  EVENT_TYPE i n
  PARTITION_NAME V767
  TBL_NAME V256
  PK PART_NAME_ID
  IX PARTITIONEVENTINDEX PARTITION_NAME

TABLE TAB_COL_STATS
  CS_ID B n
  CAT_NAME V256 n=m v=31-
  DB_NAME V128 n=m
  TABLE_NAME V256 n=m
  COLUMN_NAME V767 n=m
  COLUMN_TYPE V128 n=m
  TBL_ID B n
  LONG_LOW_VALUE B
  LONG_HIGH_VALUE B
  DOUBLE_HIGH_VALUE D
  DOUBLE_LOW_VALUE D
  BIG_DECIMAL_LOW_VALUE V4000
  BIG_DECIMAL_HIGH_VALUE V4000
  NUM_NULLS B n
  NUM_DISTINCTS B
  BIT_VECTOR Y v=31-
  AVG_COL_LEN D
  MAX_COL_LEN B
  NUM_TRUES B
  NUM_FALSES B
  LAST_ANALYZED B n
  ENGINE V128 n v=40
  HISTOGRAM Y v=40
  PGORDER CS_ID CAT_NAME DB_NAME TABLE_NAME COLUMN_NAME COLUMN_TYPE TBL_ID LONG_LOW_VALUE LONG_HIGH_VALUE DOUBLE_LOW_VALUE DOUBLE_HIGH_VALUE BIG_DECIMAL_LOW_VALUE BIG_DECIMAL_HIGH_VALUE NUM_NULLS NUM_DISTINCTS BIT_VECTOR AVG_COL_LEN MAX_COL_LEN NUM_TRUES NUM_FALSES LAST_ANALYZED ENGINE HISTOGRAM
  PK CS_ID
  IX TAB_COL_STATS_IDX CAT_NAME DB_NAME TABLE_NAME COLUMN_NAME v=31
  IX TAB_COL_STATS_IDX DB_NAME TABLE_NAME COLUMN_NAME CAT_NAME v=40
  IX TAB_COL_STATS_N49 TBL_ID e=p
  FK TAB_COL_STATS_FK TAB_COL_STATS_fkey TBL_ID > TBLS(TBL_ID)

TABLE PART_COL_STATS
  CS_ID B n
  CAT_NAME V256 n=m v=31-
  DB_NAME V128 n=m
  TABLE_NAME V256 n=m
  PARTITION_NAME V767 n=m
  COLUMN_NAME V767 n=m
  COLUMN_TYPE V128 n=m
  PART_ID B n
  LONG_LOW_VALUE B
  LONG_HIGH_VALUE B
  DOUBLE_HIGH_VALUE D
  DOUBLE_LOW_VALUE D
  BIG_DECIMAL_LOW_VALUE V4000
  BIG_DECIMAL_HIGH_VALUE V4000
  NUM_NULLS B n
  NUM_DISTINCTS B
  BIT_VECTOR Y v=31-
  AVG_COL_LEN D
  MAX_COL_LEN B
  NUM_TRUES B
  NUM_FALSES B
  LAST_ANALYZED B n
  ENGINE V128 n v=40
  HISTOGRAM Y v=40
  PGORDER CS_ID CAT_NAME DB_NAME TABLE_NAME PARTITION_NAME COLUMN_NAME COLUMN_TYPE PART_ID LONG_LOW_VALUE LONG_HIGH_VALUE DOUBLE_LOW_VALUE DOUBLE_HIGH_VALUE BIG_DECIMAL_LOW_VALUE BIG_DECIMAL_HIGH_VALUE NUM_NULLS NUM_DISTINCTS BIT_VECTOR AVG_COL_LEN MAX_COL_LEN NUM_TRUES NUM_FALSES LAST_ANALYZED ENGINE HISTOGRAM
  PK CS_ID
  IX PCS_STATS_IDX DB_NAME TABLE_NAME COLUMN_NAME PARTITION_NAME v=23
  IX PCS_STATS_IDX CAT_NAME DB_NAME TABLE_NAME COLUMN_NAME PARTITION_NAME v=31
  IX PCS_STATS_IDX DB_NAME TABLE_NAME COLUMN_NAME PARTITION_NAME CAT_NAME v=40
  IX PART_COL_STATS_N49 PART_ID e=p
  FK PART_COL_STATS_FK PART_COL_STATS_fkey PART_ID > PARTITIONS(PART_ID)

TABLE IDXS
  INDEX_ID B n
  CREATE_TIME I n
  DEFERRED_REBUILD Z n
  INDEX_HANDLER_CLASS V4000
  INDEX_NAME V128
  INDEX_TBL_ID B
  LAST_ACCESS_TIME I n
  ORIG_TBL_ID B
  SD_ID B
  PK INDEX_ID
  UK UNIQUEINDEX INDEX_NAME ORIG_TBL_ID
  IX IDXS_N51 SD_ID
  IX IDXS_N50 INDEX_TBL_ID
  IX IDXS_N49 ORIG_TBL_ID
  FK IDXS_FK1 IDXS_ORIG_TBL_ID_fkey ORIG_TBL_ID > TBLS(TBL_ID)
  FK IDXS_FK2 IDXS_SD_ID_fkey SD_ID > SDS(SD_ID)
  FK IDXS_FK3 IDXS_INDEX_TBL_ID_fkey INDEX_TBL_ID > TBLS(TBL_ID)

TABLE INDEX_PARAMS
  INDEX_ID B n
  PARAM_KEY V256 n
  PARAM_VALUE V4000
  PK INDEX_ID PARAM_KEY
  IX INDEX_PARAMS_N49 INDEX_ID
  FK INDEX_PARAMS_FK1 INDEX_PARAMS_INDEX_ID_fkey INDEX_ID > IDXS(INDEX_ID)

TABLE NUCLEUS_TABLES
  CLASS_NAME V128 n
  TABLE_NAME V128 n
  TYPE V4 n
  OWNER V2 n
  VERSION V20 n
  INTERFACE_NAME V255
  PK CLASS_NAME

TABLE SEQUENCE_TABLE
  SEQUENCE_NAME V255 n
  NEXT_VAL B n
  PK SEQUENCE_NAME

TABLE TYPES
  TYPES_ID B n
  TYPE_NAME V128
  TYPE1 V767
  TYPE2 V767
  PK TYPES_ID
  UK UNIQUE_TYPE TYPE_NAME

TABLE TYPE_FIELDS
  TYPE_NAME B n
  COMMENT V256
  FIELD_NAME V128 n
  FIELD_TYPE V767 n
  INTEGER_IDX I n
  PK TYPE_NAME FIELD_NAME
  IX TYPE_FIELDS_N49 TYPE_NAME
  FK TYPE_FIELDS_FK1 TYPE_FIELDS_TYPE_NAME_fkey TYPE_NAME > TYPES(TYPES_ID)

TABLE MASTER_KEYS
  KEY_ID i n ai
  MASTER_KEY V767
  PK KEY_ID

TABLE DELEGATION_TOKENS
  TOKEN_IDENT V767 n
  TOKEN V767
  PK TOKEN_IDENT

TABLE FUNCS
  FUNC_ID B n
  CLASS_NAME V4000
  CREATE_TIME i n
  DB_ID B
  FUNC_NAME V128
  FUNC_TYPE i n
  OWNER_NAME V128
  OWNER_TYPE V10
  PK FUNC_ID
  UK UNIQUEFUNCTION FUNC_NAME DB_ID pg=index
  IX FUNCS_N49 DB_ID
  FK FUNCS_FK1 FUNCS_FK1 DB_ID > DBS(DB_ID)

TABLE FUNC_RU
  FUNC_ID B n
  RESOURCE_TYPE i n
  RESOURCE_URI V4000
  INTEGER_IDX i n
  PK FUNC_ID INTEGER_IDX
  IX FUNC_RU_N49 FUNC_ID e=p
  FK FUNC_RU_FK1 FUNC_RU_FK1 FUNC_ID > FUNCS(FUNC_ID)

TABLE NOTIFICATION_LOG
  NL_ID B n
  EVENT_ID B n
  EVENT_TIME i n
  EVENT_TYPE V32 n
  CAT_NAME V256 v=31-
  DB_NAME V128
  TBL_NAME V256
  MESSAGE L
  MESSAGE_FORMAT V16
  PK NL_ID
  UK NOTIFICATION_LOG_EVENT_ID EVENT_ID pg=index v=40

TABLE NOTIFICATION_SEQUENCE
  NNI_ID B n
  NEXT_EVENT_ID B n
  PK NNI_ID
  CHECK ONE_ROW_CONSTRAINT NNI_ID = 1 v=40

TABLE KEY_CONSTRAINTS
  CHILD_CD_ID B
  CHILD_INTEGER_IDX i|B
  CHILD_TBL_ID B
  PARENT_CD_ID B n v=23
  PARENT_CD_ID B v=31-
  PARENT_INTEGER_IDX i|B n
  PARENT_TBL_ID B n
  POSITION B n
  CONSTRAINT_NAME V400 n
  CONSTRAINT_TYPE S n
  UPDATE_RULE S
  DELETE_RULE S
  ENABLE_VALIDATE_RELY S n
  DEFAULT_VALUE V400 v=31-
  PK CONSTRAINT_NAME POSITION v=-31
  PK PARENT_TBL_ID CONSTRAINT_NAME POSITION pg=constraints_pk v=40
  IX CONSTRAINTS_PARENT_TABLE_ID_INDEX PARENT_TBL_ID pgname=CONSTRAINTS_PARENT_TBLID_INDEX
  IX CONSTRAINTS_CONSTRAINT_TYPE_INDEX CONSTRAINT_TYPE v=31-

TABLE METASTORE_DB_PROPERTIES v=31-
  PROPERTY_KEY V255 n
  PROPERTY_VALUE V1000 n
  DESCRIPTION V1000
  PROPERTYCONTENT Y v=40
  PK PROPERTY_KEY pg=PROPERTY_KEY_PK

TABLE MV_CREATION_METADATA v=31-
  MV_CREATION_METADATA_ID B n
  CAT_NAME V256 n
  DB_NAME V128 n
  TBL_NAME V256 n
  TXN_LIST X
  MATERIALIZATION_TIME B n
  PK MV_CREATION_METADATA_ID pg=MV_CREATION_METADATA_PK
  IX MV_UNIQUE_TABLE TBL_NAME DB_NAME

TABLE MV_TABLES_USED v=31-
  MV_CREATION_METADATA_ID B n
  TBL_ID B n
  INSERTED_COUNT B n d=0 v=40
  UPDATED_COUNT B n d=0 v=40
  DELETED_COUNT B n d=0 v=40
  PK TBL_ID MV_CREATION_METADATA_ID pg=MV_TABLES_USED_PK v=40
  FK MV_TABLES_USED_FK1 MV_TABLES_USED_FK1 MV_CREATION_METADATA_ID > MV_CREATION_METADATA(MV_CREATION_METADATA_ID)
  FK MV_TABLES_USED_FK2 MV_TABLES_USED_FK2 TBL_ID > TBLS(TBL_ID)

TABLE WM_RESOURCEPLAN v=31-
  RP_ID B n
  NAME V128 n
  NS V128 v=40
  QUERY_PARALLELISM i
  STATUS V20 n
  DEFAULT_POOL_ID B
  PK RP_ID
  UK UNIQUE_WM_RESOURCEPLAN NAME v=31
  UK UNIQUE_WM_RESOURCEPLAN NAME NS e=m v=40
  UK UNIQUE_WM_RESOURCEPLAN NS NAME e=p v=40
  FK WM_RESOURCEPLAN_FK1 WM_RESOURCEPLAN_FK1 DEFAULT_POOL_ID > WM_POOL(POOL_ID)

TABLE WM_POOL v=31-
  POOL_ID B n
  RP_ID B n
  PATH V767|V1024 n
  ALLOC_FRACTION d
  QUERY_PARALLELISM i
  SCHEDULING_POLICY V767|V1024
  PK POOL_ID
  UK UNIQUE_WM_POOL RP_ID PATH
  FK WM_POOL_FK1 WM_POOL_FK1 RP_ID > WM_RESOURCEPLAN(RP_ID)

TABLE WM_TRIGGER v=31-
  TRIGGER_ID B n
  RP_ID B n
  NAME V128 n
  TRIGGER_EXPRESSION V1024
  ACTION_EXPRESSION V1024
  IS_IN_UNMANAGED Z|S n d=0
  PK TRIGGER_ID
  UK UNIQUE_WM_TRIGGER RP_ID NAME
  FK WM_TRIGGER_FK1 WM_TRIGGER_FK1 RP_ID > WM_RESOURCEPLAN(RP_ID)

TABLE WM_POOL_TO_TRIGGER v=31-
  POOL_ID B n
  TRIGGER_ID B n
  PK POOL_ID TRIGGER_ID
  FK WM_POOL_TO_TRIGGER_FK1 WM_POOL_TO_TRIGGER_FK1 POOL_ID > WM_POOL(POOL_ID)
  FK WM_POOL_TO_TRIGGER_FK2 WM_POOL_TO_TRIGGER_FK2 TRIGGER_ID > WM_TRIGGER(TRIGGER_ID)

TABLE WM_MAPPING v=31-
  MAPPING_ID B n
  RP_ID B n
  ENTITY_TYPE V128 n
  ENTITY_NAME V128 n
  POOL_ID B
  ORDERING i
  PK MAPPING_ID
  UK UNIQUE_WM_MAPPING RP_ID ENTITY_TYPE ENTITY_NAME
  FK WM_MAPPING_FK1 WM_MAPPING_FK1 RP_ID > WM_RESOURCEPLAN(RP_ID)
  FK WM_MAPPING_FK2 WM_MAPPING_FK2 POOL_ID > WM_POOL(POOL_ID)

TABLE I_SCHEMA v=31-
  SCHEMA_ID B n
  SCHEMA_TYPE i n
  NAME V256
  DB_ID B
  COMPATIBILITY i n
  VALIDATION_LEVEL i n
  CAN_EVOLVE Z n
  SCHEMA_GROUP V256
  DESCRIPTION V4000
  PK SCHEMA_ID
  IX UNIQUE_NAME NAME e=m
  UK UNIQUE_NAME NAME e=p pgname=I_SCHEMA_NAME_key
  FK - - DB_ID > DBS(DB_ID) nodefer

TABLE SCHEMA_VERSION v=31-
  SCHEMA_VERSION_ID B n
  SCHEMA_ID B
  VERSION i n
  CREATED_AT B n
  CD_ID B
  STATE i n
  DESCRIPTION V4000
  SCHEMA_TEXT T
  FINGERPRINT V256
  SCHEMA_VERSION_NAME V256
  SERDE_ID B
  PK SCHEMA_VERSION_ID
  IX UNIQUE_VERSION SCHEMA_ID VERSION e=m
  UK UNIQUE_VERSION SCHEMA_ID VERSION e=p pgname=SCHEMA_VERSION_SCHEMA_ID_VERSION_key
  FK - - SCHEMA_ID > I_SCHEMA(SCHEMA_ID) nodefer
  FK - - CD_ID > CDS(CD_ID) nodefer
  FK - - SERDE_ID > SERDES(SERDE_ID) nodefer

TABLE TXNS pglower=-31
  TXN_ID B n v=-31
  TXN_ID B n ai v=40
  TXN_STATE C n
  TXN_STARTED B n
  TXN_LAST_HEARTBEAT B n
  TXN_USER V128 n
  TXN_HOST V128 n
  TXN_AGENT_INFO V128
  TXN_META_INFO V128
  TXN_HEARTBEAT_COUNT i
  TXN_TYPE i v=31-
  PK TXN_ID

TABLE TXN_COMPONENTS pglower=-31
  TC_TXNID B n=m v=23
  TC_TXNID B n v=31-
  TC_DATABASE V128 n
  TC_TABLE V128 n=m v=23
  TC_TABLE V128 v=31
  TC_TABLE V256 v=40
  TC_PARTITION V767
  TC_OPERATION_TYPE C n
  TC_WRITEID B v=31-
  IX TC_TXNID_INDEX TC_TXNID using=hash pgname=tc_txnid_index
  FK - - TC_TXNID > TXNS(TXN_ID) nodefer

TABLE COMPLETED_TXN_COMPONENTS pglower=-31
  CTC_TXNID B n=m v=23
  CTC_TXNID B n v=31-
  CTC_DATABASE V128 n
  CTC_TABLE V256
  CTC_PARTITION V767
  CTC_TIMESTAMP TS n d=CURRENT_TIMESTAMP v=31-
  CTC_WRITEID B v=31-
  CTC_UPDATE_DELETE C n v=31-
  IX COMPLETED_TXN_COMPONENTS_IDX CTC_DATABASE CTC_TABLE CTC_PARTITION pgname=completed_txn_components_index v=31-

TABLE NEXT_TXN_ID v=-31 pglower=-31
  NTXN_NEXT B n

TABLE TXN_LOCK_TBL v=40
  TXN_LOCK B n

TABLE HIVE_LOCKS pglower=-31
  HL_LOCK_EXT_ID B n
  HL_LOCK_INT_ID B n
  HL_TXNID B v=23
  HL_TXNID B n v=31-
  HL_DB V128 n
  HL_TABLE V128 v=-31
  HL_TABLE V256 v=40
  HL_PARTITION V767
  HL_LOCK_STATE C n
  HL_LOCK_TYPE C n
  HL_LAST_HEARTBEAT B n
  HL_ACQUIRED_AT B
  HL_USER V128 n
  HL_HOST V128 n
  HL_HEARTBEAT_COUNT i
  HL_AGENT_INFO V128
  HL_BLOCKEDBY_EXT_ID B
  HL_BLOCKEDBY_INT_ID B
  PK HL_LOCK_EXT_ID HL_LOCK_INT_ID
  IX HIVE_LOCK_TXNID_INDEX HL_TXNID e=m
  IX HL_TXNID_IDX HL_TXNID e=m
  IX HL_TXNID_INDEX HL_TXNID e=p using=hash pgname=hl_txnid_index

TABLE NEXT_LOCK_ID pglower=-31
  NL_NEXT B n

TABLE COMPACTION_QUEUE pglower=-31
  CQ_ID B n
  CQ_DATABASE V128 n
  CQ_TABLE V128 n v=-31
  CQ_TABLE V256 n v=40
  CQ_PARTITION V767
  CQ_STATE C n
  CQ_TYPE C n
  CQ_TBLPROPERTIES V2048
  CQ_WORKER_ID V128
  CQ_ENQUEUE_TIME B v=40
  CQ_START B
  CQ_RUN_AS V128
  CQ_HIGHEST_TXN_ID B v=23
  CQ_HIGHEST_WRITE_ID B v=31-
  CQ_META_INFO VB2048
  CQ_HADOOP_JOB_ID V32
  CQ_ERROR_MESSAGE T v=40
  CQ_NEXT_TXN_ID B v=40
  CQ_TXN_ID B v=40
  CQ_COMMIT_TIME B v=40
  CQ_INITIATOR_ID V128 v=40
  CQ_INITIATOR_VERSION V128 v=40
  CQ_WORKER_VERSION V128 v=40
  CQ_CLEANER_START B v=40
  CQ_RETRY_RETENTION B n d=0 v=40
  CQ_POOL_NAME V128 v=40
  CQ_NUMBER_OF_BUCKETS i v=40
  CQ_ORDER_BY V4000 v=40
  PK CQ_ID

TABLE NEXT_COMPACTION_QUEUE_ID pglower=-31
  NCQ_NEXT B n

TABLE COMPLETED_COMPACTIONS pglower=-31
  CC_ID B n
  CC_DATABASE V128 n
  CC_TABLE V128 n v=-31
  CC_TABLE V256 n v=40
  CC_PARTITION V767
  CC_STATE C n
  CC_TYPE C n
  CC_TBLPROPERTIES V2048
  CC_WORKER_ID V128
  CC_ENQUEUE_TIME B v=40
  CC_START B
  CC_END B
  CC_RUN_AS V128
  CC_HIGHEST_TXN_ID B v=23
  CC_HIGHEST_WRITE_ID B v=31-
  CC_META_INFO VB2048
  CC_HADOOP_JOB_ID V32
  CC_ERROR_MESSAGE T v=40
  CC_NEXT_TXN_ID B v=40
  CC_TXN_ID B v=40
  CC_COMMIT_TIME B v=40
  CC_INITIATOR_ID V128 v=40
  CC_INITIATOR_VERSION V128 v=40
  CC_WORKER_VERSION V128 v=40
  CC_POOL_NAME V128 v=40
  CC_NUMBER_OF_BUCKETS i v=40
  CC_ORDER_BY V4000 v=40
  PK CC_ID
  IX COMPLETED_COMPACTIONS_RES CC_DATABASE CC_TABLE CC_PARTITION v=40

TABLE COMPACTION_METRICS_CACHE v=40
  CMC_DATABASE V128 n
  CMC_TABLE V256 n
  CMC_PARTITION V767
  CMC_METRIC_TYPE V128 n
  CMC_METRIC_VALUE i n
  CMC_VERSION i n

TABLE AUX_TABLE pglower=-31
  MT_KEY1 V128 n
  MT_KEY2 B n
  MT_COMMENT V255
  PK MT_KEY1 MT_KEY2

TABLE WRITE_SET pglower=-31
  WS_DATABASE V128 n
  WS_TABLE V128 n v=-31
  WS_TABLE V256 n v=40
  WS_PARTITION V767
  WS_TXNID B n
  WS_COMMIT_ID B n
  WS_OPERATION_TYPE C n

TABLE TXN_TO_WRITE_ID v=31- pglower=-31
  T2W_TXNID B n
  T2W_DATABASE V128 n
  T2W_TABLE V256 n
  T2W_WRITEID B n
  UK TBL_TO_TXN_ID_IDX T2W_DATABASE T2W_TABLE T2W_TXNID pg=index
  UK TBL_TO_WRITE_ID_IDX T2W_DATABASE T2W_TABLE T2W_WRITEID pg=index

TABLE NEXT_WRITE_ID v=31- pglower=-31
  NWI_DATABASE V128 n
  NWI_TABLE V256 n
  NWI_NEXT B n
  UK NEXT_WRITE_ID_IDX NWI_DATABASE NWI_TABLE pg=index

TABLE MIN_HISTORY_WRITE_ID v=40
  MH_TXNID B n
  MH_DATABASE V128 n
  MH_TABLE V256 n
  MH_WRITEID B n
  FK - - MH_TXNID > TXNS(TXN_ID) nodefer

TABLE MIN_HISTORY_LEVEL v=31- pglower=-31
  MHL_TXNID B n
  MHL_MIN_OPEN_TXNID B n
  PK MHL_TXNID
  IX MIN_HISTORY_LEVEL_IDX MHL_MIN_OPEN_TXNID

TABLE MATERIALIZATION_REBUILD_LOCKS v=31- pglower=-31
  MRL_TXN_ID B n
  MRL_DB_NAME V128 n
  MRL_TBL_NAME V256 n
  MRL_LAST_HEARTBEAT B n
  PK MRL_TXN_ID

TABLE REPL_TXN_MAP v=31- pglower=-31
  RTM_REPL_POLICY V256 n
  RTM_SRC_TXN_ID B n
  RTM_TARGET_TXN_ID B n
  PK RTM_REPL_POLICY RTM_SRC_TXN_ID

TABLE RUNTIME_STATS v=31- pglower=-31
  RS_ID B n
  CREATE_TIME B n
  WEIGHT B n
  PAYLOAD Y
  PK RS_ID
  IX IDX_RUNTIME_STATS_CREATE_TIME CREATE_TIME

TABLE TXN_WRITE_NOTIFICATION_LOG v=40
  WNL_ID B n
  WNL_TXNID B n
  WNL_WRITEID B n
  WNL_DATABASE V128 n
  WNL_TABLE V256 n
  WNL_PARTITION V767 n
  WNL_TABLE_OBJ L n
  WNL_PARTITION_OBJ L
  WNL_FILES L
  WNL_EVENT_TIME i n
  PK WNL_TXNID WNL_DATABASE WNL_TABLE WNL_PARTITION

TABLE SCHEDULED_QUERIES v=40
  SCHEDULED_QUERY_ID B n
  CLUSTER_NAMESPACE V256
  ENABLED BOOL n
  NEXT_EXECUTION i
  QUERY V4000
  SCHEDULE V256
  SCHEDULE_NAME V256
  USER V256
  ACTIVE_EXECUTION_ID i|B
  PK SCHEDULED_QUERY_ID pg=SCHEDULED_QUERIES_PK

TABLE SCHEDULED_EXECUTIONS v=40
  SCHEDULED_EXECUTION_ID B n
  END_TIME i
  ERROR_MESSAGE V2000
  EXECUTOR_QUERY_ID V256
  LAST_UPDATE_TIME i
  SCHEDULED_QUERY_ID B
  START_TIME i
  STATE V256
  PK SCHEDULED_EXECUTION_ID pg=SCHEDULED_EXECUTIONS_PK
  IX IDX_SCHEDULED_EXECUTIONS_LAST_UPDATE_TIME LAST_UPDATE_TIME pgname=idx_scheduled_executions_last_update_time
  IX IDX_SCHEDULED_EXECUTIONS_SCHEDULED_QUERY_ID SCHEDULED_QUERY_ID pgname=idx_scheduled_executions_scheduled_query_id
  UK UNIQUE_SCHEDULED_EXECUTIONS_ID SCHEDULED_EXECUTION_ID pg=index pgname=unique_scheduled_executions_id
  FK SCHEDULED_EXECUTIONS_SCHQ_FK SCHEDULED_EXECUTIONS_SCHQ_FK SCHEDULED_QUERY_ID > SCHEDULED_QUERIES(SCHEDULED_QUERY_ID) nodefer cascade

TABLE REPLICATION_METRICS v=40
  RM_SCHEDULED_EXECUTION_ID B n
  RM_POLICY V256 n
  RM_DUMP_EXECUTION_ID B n
  RM_METADATA V4000
  RM_PROGRESS V10000
  RM_START_TIME i n
  MESSAGE_FORMAT V16 d='json-0.2'
  PK RM_SCHEDULED_EXECUTION_ID
  IX POLICY_IDX RM_POLICY
  IX DUMP_IDX RM_DUMP_EXECUTION_ID

TABLE STORED_PROCS v=40
  SP_ID B n
  CREATE_TIME i n
  DB_ID B n
  NAME V256 n
  OWNER_NAME V128 n
  SOURCE L n
  PK SP_ID
  UK UNIQUESTOREDPROC NAME DB_ID pg=index
  FK STOREDPROC_FK1 STOREDPROC_FK1 DB_ID > DBS(DB_ID)

TABLE PACKAGES v=40
  PKG_ID B n
  CREATE_TIME i n
  DB_ID B n
  NAME V256 n
  OWNER_NAME V128 n
  HEADER L n
  BODY L n
  PK PKG_ID
  UK UNIQUEPKG NAME DB_ID pg=index
  FK PACKAGES_FK1 PACKAGES_FK1 DB_ID > DBS(DB_ID)

TABLE DATACONNECTORS v=40
  NAME V128 n
  TYPE V32 n
  URL V4000 n
  COMMENT V256
  OWNER_NAME V256
  OWNER_TYPE V10
  CREATE_TIME i n
  PK NAME

TABLE DATACONNECTOR_PARAMS v=40
  NAME V128 n
  PARAM_KEY V180 n
  PARAM_VALUE V4000
  PK NAME PARAM_KEY
  FK DATACONNECTOR_NAME_FK1 DATACONNECTOR_NAME_FK1 NAME > DATACONNECTORS(NAME) nodefer cascade

TABLE DC_PRIVS v=40
  DC_GRANT_ID B n
  CREATE_TIME I n
  NAME V128
  GRANT_OPTION S n
  GRANTOR V128
  GRANTOR_TYPE V128
  PRINCIPAL_NAME V128
  PRINCIPAL_TYPE V128
  DC_PRIV V128
  AUTHORIZER V128
  PK DC_GRANT_ID
  UK DCPRIVILEGEINDEX AUTHORIZER NAME PRINCIPAL_NAME PRINCIPAL_TYPE DC_PRIV GRANTOR GRANTOR_TYPE
  IX DC_PRIVS_N49 NAME
  FK DC_PRIVS_FK1 DC_PRIVS_DC_ID_fkey NAME > DATACONNECTORS(NAME)
"""

# (MySQL type, PostgreSQL type) per type letter
TYPES = {
    "B": ("bigint", "bigint"),
    "I": ("int", "bigint"),
    "i": ("int", "integer"),
    "S": ("smallint", "smallint"),
    "Z": ("bit(1)", "boolean"),
    "BOOL": ("boolean", "boolean"),
    "C": ("char(1)", "character(1)"),
    "T": ("mediumtext", "text"),
    "L": ("longtext", "text"),
    "X": ("text", "text"),
    "Y": ("blob", "bytea"),
    "D": ("double(53,4)", "double precision"),
    "d": ("double", "double precision"),
    "TS": ("timestamp", "timestamp without time zone"),
}


def _type(tok, engine):
    """SQL type of a type token on engine 'm' or 'p'."""
    if "|" in tok:
        tok = tok.split("|")[0 if engine == "m" else 1]
    if tok.startswith("VB"):
        return f"varbinary({tok[2:]})" if engine == "m" else "bytea"
    if tok.startswith("V"):
        return f"varchar({tok[1:]})" if engine == "m" else f"character varying({tok[1:]})"
    return TYPES[tok][0 if engine == "m" else 1]


def _in_range(rng, v):
    if rng is None:
        return True
    if rng.endswith("-"):
        return v >= int(rng[:-1])
    if rng.startswith("-"):
        return v <= int(rng[1:])
    return v == int(rng)


class Column:
    def __init__(self, name, mtype, ptype, notnull_m, notnull_p, default, ai):
        self.name, self.mtype, self.ptype = name, mtype, ptype
        self.notnull_m, self.notnull_p, self.default, self.ai = notnull_m, notnull_p, default, ai

    def notnull(self, engine):
        return self.notnull_m if engine == "m" else self.notnull_p

    def is_bit(self):
        return self.mtype == "bit(1)"


class Table:
    """One table of one layout (version already applied)."""

    def __init__(self, name, lower):
        self.name = name
        self.lower = lower  # PostgreSQL: unquoted (lower-case) names
        self.columns = []
        self.pk = None  # (cols, pgname)
        self.uniques = []  # (name, cols, engines, pgkind, pgname)
        self.indexes = []  # (name, cols, engines, using, pgname)
        self.fks = []  # (mname, pgname, cols, reftable, refcols, defer, cascade)
        self.checks = []  # (name, expr)
        self.pgorder = None

    def colnames(self):
        return [c.name for c in self.columns]

    def col(self, name):
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")


def parse_schema(v):
    """The list of Table objects of layout v (23/31/40), in creation order."""
    tables = []
    t = None
    skip = False
    for raw in SCHEMA.strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        words = line.split()
        opts = {}
        plain = []
        for w in words:
            m = re.match(r"^(v|pglower|e|pg|pgname|d|n|using)=(.*)$", w)
            if m:
                opts[m.group(1)] = m.group(2)
            else:
                plain.append(w)
        if plain[0] == "TABLE":
            skip = not _in_range(opts.get("v"), v)
            if skip:
                t = None
                continue
            t = Table(plain[1], _in_range(opts.get("pglower"), v) if "pglower" in opts else False)
            tables.append(t)
            continue
        if skip:
            continue
        if not _in_range(opts.get("v"), v):
            continue
        kw = plain[0]
        if kw == "PK":
            t.pk = (plain[1:], opts.get("pg"))
        elif kw == "UK":
            t.uniques.append((plain[1], plain[2:], opts.get("e", "mp"), opts.get("pg", "constraint"),
                              opts.get("pgname")))
        elif kw == "IX":
            t.indexes.append((plain[1], plain[2:], opts.get("e", "mp"), opts.get("using"),
                              opts.get("pgname")))
        elif kw == "FK":
            arrow = plain.index(">")
            m = re.match(r"^(\w+)\((.*)\)$", plain[arrow + 1])
            t.fks.append((plain[1], plain[2], plain[3:arrow], m.group(1), m.group(2).split(","),
                          "nodefer" not in plain, "cascade" in plain))
        elif kw == "CHECK":
            t.checks.append((plain[1], " ".join(plain[2:])))
        elif kw == "PGORDER":
            t.pgorder = plain[1:]
        else:
            name, tok = plain[0], plain[1]
            flags = plain[2:]
            nn = opts.get("n")
            notnull_m = "n" in flags or nn == "m"
            notnull_p = "n" in flags or nn == "p"
            t.columns.append(Column(name, _type(tok, "m"), _type(tok, "p"), notnull_m, notnull_p,
                                    opts.get("d"), "ai" in flags))
    return tables


# ---------------------------------------------------------------------------------------------
# DDL rendering
# ---------------------------------------------------------------------------------------------

def q_m(name):
    return f"`{name}`"


class Dialect:
    """Names and statements for one engine ('m' MariaDB/MySQL, 'p' PostgreSQL)."""

    def __init__(self, engine):
        self.e = engine

    def tname(self, t):
        return t.name.lower() if (self.e == "p" and t.lower) else t.name

    def cname(self, t, c):
        return c.lower() if (self.e == "p" and t.lower) else c

    def qt(self, t):
        n = self.tname(t)
        return q_m(n) if self.e == "m" else f'"{n}"'

    def qc(self, t, c):
        n = self.cname(t, c)
        return q_m(n) if self.e == "m" else f'"{n}"'

    def qn(self, name):
        return q_m(name) if self.e == "m" else f'"{name}"'

    def cols(self, t, cols):
        return ", ".join(self.qc(t, c) for c in cols)

    def default(self, c):
        d = c.default
        if d is None:
            return ""
        if "|" in d:
            d = d.split("|")[0 if self.e == "m" else 1]
        return f" DEFAULT {d}"

    def create_table(self, t):
        cols = t.columns
        if self.e == "p" and t.pgorder:
            order = [n for n in t.pgorder if n in t.colnames()]
            assert sorted(order) == sorted(t.colnames()), t.name
            cols = [t.col(n) for n in order]
        parts = []
        for c in cols:
            if self.e == "m":
                s = f"{q_m(c.name)} {c.mtype}"
                s += " NOT NULL" if c.notnull("m") else ""
                s += " AUTO_INCREMENT" if c.ai else ""
                s += self.default(c)
            else:
                typ = c.ptype
                if c.ai:
                    typ = "bigserial" if typ == "bigint" else "serial"
                s = f"{self.qc(t, c.name)} {typ}" + self.default(c)
                s += " NOT NULL" if c.notnull("p") else ""
            parts.append(s)
        if self.e == "m":
            if t.pk:
                parts.append(f"PRIMARY KEY ({self.cols(t, t.pk[0])})")
            body = ",\n  ".join(parts)
            return (f"CREATE TABLE {self.qt(t)} (\n  {body}\n) ENGINE=InnoDB "
                    f"DEFAULT CHARSET=latin1 COLLATE=latin1_bin;")
        body = ",\n  ".join(parts)
        return f"CREATE TABLE {self.qt(t)} (\n  {body}\n);"

    def pk_name(self, t):
        name = t.pk[1] or f"{t.name}_pkey"
        return name.lower() if t.lower else name

    def idx_name(self, t, name, pgname):
        if self.e == "m":
            return name
        n = pgname or name
        return n.lower() if t.lower else n

    def post_load(self, t):
        """(constraint statements, fk statements) to run after the load."""
        stmts, fks = [], []
        if self.e == "p" and t.pk:
            stmts.append(f"ALTER TABLE {self.qt(t)} ADD CONSTRAINT {self.qn(self.pk_name(t))} "
                         f"PRIMARY KEY ({self.cols(t, t.pk[0])});")
        madd = []
        for name, cols, engines, pgkind, pgname in t.uniques:
            if self.e not in engines:
                continue
            if self.e == "m":
                madd.append(f"ADD UNIQUE KEY {q_m(name)} ({self.cols(t, cols)})")
            elif pgkind == "index":
                stmts.append(f"CREATE UNIQUE INDEX {self.qn(self.idx_name(t, name, pgname))} "
                             f"ON {self.qt(t)} ({self.cols(t, cols)});")
            else:
                stmts.append(f"ALTER TABLE {self.qt(t)} ADD CONSTRAINT "
                             f"{self.qn(self.idx_name(t, name, pgname))} UNIQUE ({self.cols(t, cols)});")
        for name, cols, engines, using, pgname in t.indexes:
            if self.e not in engines:
                continue
            if self.e == "m":
                madd.append(f"ADD KEY {q_m(name)} ({self.cols(t, cols)})")
            else:
                u = f" USING {using}" if using else " USING btree"
                stmts.append(f"CREATE INDEX {self.qn(self.idx_name(t, name, pgname))} ON {self.qt(t)}"
                             f"{u} ({self.cols(t, cols)});")
        for name, expr in t.checks:
            if self.e == "m":
                madd.append(f"ADD CONSTRAINT {q_m(name)} CHECK ({expr})")
            else:
                pexpr = re.sub(r"\b([A-Z][A-Z0-9_]*)\b", lambda m: f'"{m.group(1)}"', expr)
                stmts.append(f"ALTER TABLE {self.qt(t)} ADD CONSTRAINT {self.qn(name)} CHECK ({pexpr});")
        if madd:
            stmts.append(f"ALTER TABLE {self.qt(t)} " + ", ".join(madd) + ";")
        for mname, pgname, cols, reft, refcols, defer, cascade in t.fks:
            ref = self.reftable(reft)
            refq = self.qn(self.tname(ref))
            refc = ", ".join(self.qc(ref, c) for c in refcols)
            if self.e == "m":
                cname = f"CONSTRAINT {q_m(mname)} " if mname != "-" else ""
            else:
                if pgname == "-":
                    pgname = f"{self.tname(t)}_{'_'.join(self.cname(t, c) for c in cols)}_fkey"
                cname = f"CONSTRAINT {self.qn(pgname)} "
            s = (f"ALTER TABLE {self.qt(t)} ADD {cname}FOREIGN KEY ({self.cols(t, cols)}) "
                 f"REFERENCES {refq} ({refc})")
            if cascade:
                s += " ON DELETE CASCADE"
            if self.e == "p" and defer:
                s += " DEFERRABLE"
            fks.append(s + ";")
        return stmts, fks

    reftable = None  # set by Schema


class Schema:
    def __init__(self, v):
        self.v = v
        self.tables = parse_schema(v)
        self.by_name = {t.name: t for t in self.tables}

    def dialect(self, engine):
        d = Dialect(engine)
        d.reftable = lambda name: self.by_name[name]
        return d

    def counts(self, engine):
        """Numbers of tables, foreign keys and secondary indexes/unique keys on engine."""
        fk = ix = 0
        for t in self.tables:
            fk += len(t.fks)
            ix += len([u for u in t.uniques if engine in u[2]])
            ix += len([x for x in t.indexes if engine in x[2]])
        return {"tables": len(self.tables), "foreign_keys": fk, "secondary_indexes": ix}


# ---------------------------------------------------------------------------------------------
# TSV writer (the text format both LOAD DATA and COPY read: tab-separated, \N = NULL,
# backslash escapes for \\ \t \n \r). MariaDB files are Latin-1 (the metastore is latin1),
# PostgreSQL files UTF-8.
# ---------------------------------------------------------------------------------------------

ESC = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
MISSING = object()


def enc(v):
    if v is None:
        return "\\N"
    if v is True:
        return "1"
    if v is False:
        return "0"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    return v.translate(ESC)


def _pydefault(d):
    if d is None:
        return MISSING
    d = d.split("|")[0]
    if d.startswith("'"):
        return d.strip("'")
    if d == "CURRENT_TIMESTAMP":
        return "2026-01-01 00:00:00"
    return int(d)


class Writer:
    def __init__(self, schema, all_columns, tmpdir, encoding):
        self.schema = schema
        self.dir = tmpdir
        self.encoding = encoding
        self.fh = {}
        self.n = {t.name: 0 for t in schema.tables}
        self.all_columns = all_columns  # table -> set of column names in any layout
        self.spec = {}
        for t in schema.tables:
            self.spec[t.name] = [(c.name, _pydefault(c.default), c.notnull_m or c.notnull_p)
                                 for c in t.columns]

    def has(self, table):
        return table in self.schema.by_name

    def path(self, table):
        return os.path.join(self.dir, table + ".tsv")

    def file(self, table):
        f = self.fh.get(table)
        if f is None:
            f = open(self.path(table), "w", encoding=self.encoding, newline="\n", buffering=1 << 20)
            self.fh[table] = f
        return f

    def add(self, table, row):
        """Write one row given as a dict; columns this layout lacks are ignored."""
        if table not in self.spec:
            return False
        spec = self.spec[table]
        for k in row:
            if k not in self.all_columns[table]:
                raise KeyError(f"{table} has no column {k}")
        vals = []
        for name, default, notnull in spec:
            v = row.get(name, MISSING)
            if v is MISSING:
                v = None if default is MISSING else default
                if v is None and notnull:
                    raise KeyError(f"{table}.{name} is NOT NULL and has no value")
            vals.append(enc(v))
        try:
            self.file(table).write("\t".join(vals) + "\n")
        except UnicodeEncodeError as e:
            raise GenError(f"{table}: value not representable in {self.encoding}: {row!r} ({e})")
        self.n[table] += 1
        return True

    def raw(self, table, text, nrows):
        """Append pre-encoded rows (the hot path for partitions)."""
        try:
            self.file(table).write(text)
        except UnicodeEncodeError as e:
            raise GenError(f"{table}: value not representable in {self.encoding} ({e})")
        self.n[table] += nrows

    def close(self):
        for f in self.fh.values():
            f.close()


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------

BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z
FORMATS = {
    "orc": ("org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat"),
    "parquet": ("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
    "text": ("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
             "org.apache.hadoop.mapred.TextInputFormat",
             "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
    "avro": ("org.apache.hadoop.hive.serde2.avro.AvroSerDe",
             "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
             "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat"),
    "view": (None, "org.apache.hadoop.mapred.SequenceFileInputFormat",
             "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat"),
}

# Hive's FileUtils.escapePathName: these characters become %XX in partition names and paths
# (spaces and non-ASCII letters stay as they are).
_PATH_ESC = {c: "%%%02X" % c for c in list(range(1, 32)) + [ord(x) for x in "\"#%'*/:=?\\{[]^"] + [0x7F]}


def esc_path(s):
    return s.translate(_PATH_ESC)


def part_name(keys, vals):
    return "/".join(f"{esc_path(k)}={esc_path(v)}" for k, v in zip(keys, vals))


SPARK_TYPES = {"bigint": "long", "int": "integer", "smallint": "short", "tinyint": "byte",
               "string": "string", "double": "double", "float": "float", "boolean": "boolean",
               "date": "date", "timestamp": "timestamp", "binary": "binary"}


def spark_type(t):
    if t in SPARK_TYPES:
        return SPARK_TYPES[t]
    if t.startswith("decimal") or t.startswith("varchar") or t.startswith("char"):
        return "string" if not t.startswith("decimal") else t
    if t.startswith("array<"):
        return {"type": "array", "elementType": spark_type(t[6:-1]), "containsNull": True}
    if t.startswith("map<"):
        k, v = t[4:-1].split(",", 1)
        return {"type": "map", "keyType": spark_type(k), "valueType": spark_type(v),
                "valueContainsNull": True}
    if t.startswith("struct<"):
        fields = []
        for f in t[7:-1].split(","):
            n, ft = f.split(":", 1)
            fields.append({"name": n, "type": spark_type(ft), "nullable": True, "metadata": {}})
        return {"type": "struct", "fields": fields}
    return "string"


def spark_schema(cols):
    fields = []
    for n, t, c in cols:
        fields.append({"name": n, "type": spark_type(t), "nullable": True,
                       "metadata": {"comment": c} if c else {}})
    return json.dumps({"type": "struct", "fields": fields}, separators=(",", ":"), ensure_ascii=False)


def col_stats(rng, typ, nrows):
    """Column statistics values as Hive stores them for a column of Hive type typ."""
    s = {"NUM_NULLS": rng.randrange(0, max(1, nrows // 50) + 1)}
    if typ in ("bigint", "int", "smallint", "tinyint"):
        lo = rng.randrange(0, 1000)
        s.update(LONG_LOW_VALUE=lo, LONG_HIGH_VALUE=lo + rng.randrange(1, 10 ** 6),
                 NUM_DISTINCTS=max(1, nrows - rng.randrange(0, max(1, nrows // 3) + 1)))
    elif typ in ("double", "float"):
        lo = round(rng.uniform(0, 100), 2)
        s.update(DOUBLE_LOW_VALUE=lo, DOUBLE_HIGH_VALUE=round(lo + rng.uniform(1, 5000), 2),
                 NUM_DISTINCTS=max(1, nrows // 2))
    elif typ.startswith("decimal"):
        lo = rng.randrange(0, 10000)
        s.update(BIG_DECIMAL_LOW_VALUE=f"{lo / 100:.2f}",
                 BIG_DECIMAL_HIGH_VALUE=f"{(lo + rng.randrange(100, 10 ** 6)) / 100:.2f}",
                 NUM_DISTINCTS=max(1, nrows // 3))
    elif typ == "boolean":
        t = rng.randrange(0, nrows + 1)
        s.update(NUM_TRUES=t, NUM_FALSES=nrows - t)
    elif typ in ("date", "timestamp"):
        lo = 19000 + rng.randrange(0, 1500)
        if typ == "timestamp":
            lo *= 86400
        s.update(LONG_LOW_VALUE=lo, LONG_HIGH_VALUE=lo + rng.randrange(1, 400 * 86400),
                 NUM_DISTINCTS=max(1, nrows // 4))
    else:  # string-like
        s.update(AVG_COL_LEN=round(rng.uniform(3, 40), 4), MAX_COL_LEN=rng.randrange(40, 300),
                 NUM_DISTINCTS=max(1, nrows // 5))
    return s


REGIONS = ["Zürich", "São Paulo", "Köln", "Genève", "Montréal", "Malmö", "Århus", "New York",
           "Bogotá", "Zürich/Nord"]

COLUMN_POOL = [
    ("id", "bigint", "identifiant unique"), ("customer_id", "bigint", None),
    ("order_id", "bigint", "numéro de commande"), ("amount", "decimal(12,2)", "montant en CHF"),
    ("price", "double", None), ("quantity", "int", None), ("name", "string", None),
    ("city", "string", "ville (Zürich, Genève, ...)"), ("country", "string", "code ISO 3166"),
    ("email", "string", None), ("created_at", "timestamp", None), ("updated_at", "timestamp", None),
    ("birth_date", "date", None), ("is_active", "boolean", None), ("score", "double", None),
    ("tags", "array<string>", "étiquettes"), ("attributes", "map<string,string>", None),
    ("address", "struct<street:string,zip:string,city:string>", "adresse postale"),
    ("status", "varchar(32)", None), ("channel", "string", None), ("sku", "string", None),
    ("revenue", "decimal(18,4)", None), ("user_agent", "string", None), ("latency_ms", "bigint", None),
    ("category", "string", "catégorie"), ("discount", "decimal(5,2)", None), ("notes", "string", None),
]

DB_WORDS = ["sales", "finance", "marketing", "logistics", "hr", "web", "iot", "crm", "ml", "ops",
            "risk", "supply", "support", "geo", "ads"]
TABLE_WORDS = ["orders", "events", "clicks", "sessions", "invoices", "payments", "shipments",
               "customers", "products", "metrics", "logs", "inventory", "leads", "tickets", "prices",
               "visits", "accounts", "campaigns", "devices", "readings"]

SEQ_MODELS = [
    # (DataNucleus model, counter, min layout)
    ("MDatabase", "db", 23), ("MTable", "tbl", 23), ("MStorageDescriptor", "sd", 23),
    ("MSerDeInfo", "serde", 23), ("MColumnDescriptor", "cd", 23), ("MPartition", "part", 23),
    ("MTableColumnStatistics", "tcs", 23), ("MPartitionColumnStatistics", "pcs", 23),
    ("MFunction", "func", 23), ("MNotificationLog", "nl", 23), ("MRole", "role", 23),
    ("MRoleMap", "rolemap", 23), ("MGlobalPrivilege", "gp", 23), ("MDBPrivilege", "dbp", 23),
    ("MTablePrivilege", "tp", 23), ("MTableColumnPrivilege", "tcp", 23),
    ("MPartitionPrivilege", "pp", 23), ("MPartitionColumnPrivilege", "pcp", 23),
    ("MStringList", "sl", 23), ("MVersionTable", "ver", 23), ("MCatalog", "ctlg", 31),
    ("MCreationMetadata", "mv", 31), ("MWMResourcePlan", "rp", 31), ("MWMPool", "pool", 31),
    ("MScheduledQuery", "sq", 40),
]


def next_val(maxid):
    """DataNucleus allocates ids in blocks: NEXT_VAL ahead of the largest id in use."""
    return -(-(maxid + 1) // 10) * 10 + 1


class Gen:
    def __init__(self, v, w, args, rng):
        self.v = v
        self.w = w
        self.rng = rng
        self.wh = args.warehouse.rstrip("/")
        self.ext = args.external.rstrip("/")
        self.ids = {}
        self.dbs = []  # dicts: id, name, location
        self.tables = []  # dicts: id, db, name, kind, cols, pkeys, location, cd, ...
        self.nviews = 0
        self.nparts = 0
        self.nfuncs = 0
        self.events = []
        self.dates = []

    def nid(self, kind):
        n = self.ids.get(kind, 0) + 1
        self.ids[kind] = n
        return n

    def take(self, kind, count):
        """Reserve count consecutive ids; returns the first."""
        first = self.ids.get(kind, 0) + 1
        self.ids[kind] = first + count - 1
        return first

    def ctlg(self):
        return {"CAT_NAME": "hive"} if self.v >= 31 else {}

    # -- fixed rows every layout has (what Hive's schema script inserts) --
    def seed(self, schema_only):
        w = self.w
        w.add("VERSION", {"VER_ID": self.nid("ver"), "SCHEMA_VERSION": SCHEMA_VERSION[self.v],
                          "VERSION_COMMENT": f"Hive release version {SCHEMA_VERSION[self.v]}"})
        if self.v >= 31:
            w.add("CTLGS", {"CTLG_ID": self.nid("ctlg"), "NAME": "hive", "DESC": "Default catalog for Hive",
                            "LOCATION_URI": self.wh, "CREATE_TIME": None if schema_only else BASE_TIME - 400 * 86400})
        if self.v >= 40:
            w.add("TXN_LOCK_TBL", {"TXN_LOCK": 1})
            w.add("TXNS", {"TXN_ID": 0, "TXN_STATE": "c", "TXN_STARTED": 0, "TXN_LAST_HEARTBEAT": 0,
                           "TXN_USER": "", "TXN_HOST": ""})
        if schema_only:
            if self.v <= 31:
                w.add("NEXT_TXN_ID", {"NTXN_NEXT": 1})
            w.add("NEXT_LOCK_ID", {"NL_NEXT": 1})
            w.add("NEXT_COMPACTION_QUEUE_ID", {"NCQ_NEXT": 1})
            if self.v >= 31:
                w.add("NOTIFICATION_SEQUENCE", {"NNI_ID": 1, "NEXT_EVENT_ID": 1})
                w.add("SEQUENCE_TABLE", {"SEQUENCE_NAME": "org.apache.hadoop.hive.metastore.model.MNotificationLog",
                                         "NEXT_VAL": 1})
            if self.v >= 40:
                w.add("SEQUENCE_TABLE", {"SEQUENCE_NAME":
                                         "org.apache.hadoop.hive.metastore.model.MTxnWriteNotificationLog",
                                         "NEXT_VAL": 1})

    # -- databases --
    def database(self, name, desc, location, owner="hive", owner_type="USER", params=None,
                 managed=None, ctime=None, dbtype="NATIVE", connector=None, remote=None):
        dbid = self.nid("db")
        ctime = ctime if ctime is not None else BASE_TIME - self.rng.randrange(200, 700) * 86400
        row = {"DB_ID": dbid, "DESC": desc, "DB_LOCATION_URI": location, "NAME": name,
               "OWNER_NAME": owner, "OWNER_TYPE": owner_type}
        if self.v >= 31:
            row["CTLG_NAME"] = "hive"
        if self.v >= 40:
            row.update(CREATE_TIME=ctime, DB_MANAGED_LOCATION_URI=managed, TYPE=dbtype,
                       DATACONNECTOR_NAME=connector, REMOTE_DBNAME=remote)
        self.w.add("DBS", row)
        for k in sorted(params or {}):
            self.w.add("DATABASE_PARAMS", {"DB_ID": dbid, "PARAM_KEY": k, "PARAM_VALUE": params[k]})
        if name != "default":
            self.w.add("DB_PRIVS", {"DB_GRANT_ID": self.nid("dbp"), "CREATE_TIME": ctime, "DB_ID": dbid,
                                    "GRANT_OPTION": 1, "GRANTOR": owner, "GRANTOR_TYPE": owner_type,
                                    "PRINCIPAL_NAME": owner, "PRINCIPAL_TYPE": owner_type, "DB_PRIV": "ALL",
                                    "AUTHORIZER": None})
        db = {"id": dbid, "name": name, "location": location, "managed": managed, "owner": owner,
              "ctime": ctime}
        self.dbs.append(db)
        self.event("CREATE_DATABASE", name, None, ctime, {"db": name, "location": location})
        return db

    def event(self, etype, db, tbl, t, body):
        self.events.append((etype, db, tbl, t, body))

    # -- tables --
    def table(self, db, name, cols, kind="managed", fmt="orc", pkeys=(), owner=None, comment=None,
              location=None, params=None, serde_params=None, buckets=None, sort=None, skew=None,
              transactional=False, stats=False, view=None, parts=None, part_stats=False, ctime=None):
        """Writes one table (TBLS, SDS, SERDES, CDS, COLUMNS_V2, TABLE_PARAMS, PARTITION_KEYS, grants,
        stats) and its partitions. parts: None, a list of value lists, or (count, scheme)."""
        w, rng, v = self.w, self.rng, self.v
        tid = self.nid("tbl")
        owner = owner or db["owner"]
        ctime = ctime if ctime is not None else db["ctime"] + rng.randrange(1, 150) * 86400
        is_view = kind in ("view", "mview")
        if location is None and kind != "view":
            if kind == "external" or (kind == "datasource_ext"):
                location = f"{self.ext}/{db['name']}/{name}"
            elif db["name"] == "default":
                location = f"{self.wh}/{name}"
            elif transactional and db.get("managed"):
                location = f"{db['managed']}/{name}"
            else:
                location = f"{db['location']}/{name}"
        if kind == "view":
            location = None
        datasource = kind in ("datasource", "datasource_ext")
        slib, inf, outf = FORMATS["view" if kind == "view" else fmt]
        cd = self.nid("cd")
        w.add("CDS", {"CD_ID": cd})
        for i, (cn, ct, cc) in enumerate(cols):
            w.add("COLUMNS_V2", {"CD_ID": cd, "COMMENT": cc, "COLUMN_NAME": cn, "TYPE_NAME": ct,
                                 "INTEGER_IDX": i})
        sd, serde = self.nid("sd"), self.nid("serde")
        w.add("SERDES", {"SERDE_ID": serde, "NAME": None, "SLIB": slib, "SERDE_TYPE": 0})
        sp = {} if kind == "view" else {"serialization.format": "1"}
        if datasource:
            sp["path"] = location
        sp.update(serde_params or {})
        for k in sorted(sp):
            w.add("SERDE_PARAMS", {"SERDE_ID": serde, "PARAM_KEY": k, "PARAM_VALUE": sp[k]})
        nb = buckets[0] if buckets else -1
        w.add("SDS", {"SD_ID": sd, "CD_ID": cd, "INPUT_FORMAT": inf, "IS_COMPRESSED": False,
                      "IS_STOREDASSUBDIRECTORIES": bool(skew), "LOCATION": location, "NUM_BUCKETS": nb,
                      "OUTPUT_FORMAT": outf, "SERDE_ID": serde})
        if buckets:
            for i, c in enumerate(buckets[1]):
                w.add("BUCKETING_COLS", {"SD_ID": sd, "BUCKET_COL_NAME": c, "INTEGER_IDX": i})
        for i, (c, order) in enumerate(sort or []):
            w.add("SORT_COLS", {"SD_ID": sd, "COLUMN_NAME": c, "ORDER": order, "INTEGER_IDX": i})
        if skew:
            skew_cols, skew_vals = skew
            for i, c in enumerate(skew_cols):
                w.add("SKEWED_COL_NAMES", {"SD_ID": sd, "SKEWED_COL_NAME": c, "INTEGER_IDX": i})
            for i, vals in enumerate(skew_vals):
                sl = self.nid("sl")
                w.add("SKEWED_STRING_LIST", {"STRING_LIST_ID": sl})
                for j, x in enumerate(vals):
                    w.add("SKEWED_STRING_LIST_VALUES", {"STRING_LIST_ID": sl, "STRING_LIST_VALUE": x,
                                                        "INTEGER_IDX": j})
                w.add("SKEWED_VALUES", {"SD_ID_OID": sd, "STRING_LIST_ID_EID": sl, "INTEGER_IDX": i})
                w.add("SKEWED_COL_VALUE_LOC_MAP", {"SD_ID": sd, "STRING_LIST_ID_KID": sl,
                                                   "LOCATION": f"{location}/{part_name(skew_cols, vals)}"})
        if kind == "view":
            ttype = "VIRTUAL_VIEW"
        elif kind == "mview":
            ttype = "MATERIALIZED_VIEW"
        elif kind in ("external", "datasource_ext"):
            ttype = "EXTERNAL_TABLE"
        else:
            ttype = "MANAGED_TABLE"
        row = {"TBL_ID": tid, "CREATE_TIME": ctime, "DB_ID": db["id"], "LAST_ACCESS_TIME": 0,
               "OWNER": owner, "OWNER_TYPE": "USER", "RETENTION": 0, "SD_ID": sd, "TBL_NAME": name,
               "TBL_TYPE": ttype, "VIEW_EXPANDED_TEXT": view[1] if view else None,
               "VIEW_ORIGINAL_TEXT": view[0] if view else None, "IS_REWRITE_ENABLED": kind == "mview"}
        if v >= 40:
            row["WRITE_ID"] = 0
        w.add("TBLS", row)
        for i, (kn, kt, kc) in enumerate(pkeys):
            w.add("PARTITION_KEYS", {"TBL_ID": tid, "PKEY_COMMENT": kc, "PKEY_NAME": kn, "PKEY_TYPE": kt,
                                     "INTEGER_IDX": i})
        # table parameters
        nrows = rng.randrange(10, 10 ** 7)
        size = nrows * rng.randrange(20, 200)
        p = {"transient_lastDdlTime": str(ctime)}
        if not is_view and not pkeys:
            p.update(numFiles=str(rng.randrange(1, 200)), numRows=str(nrows), rawDataSize=str(size * 3),
                     totalSize=str(size))
            acc = {"BASIC_STATS": "true"}
            if stats:
                acc["COLUMN_STATS"] = {c[0]: "true" for c in cols}
            p["COLUMN_STATS_ACCURATE"] = json.dumps(acc, separators=(",", ":"))
        if v >= 31 and not is_view:
            p["bucketing_version"] = "2"
        if kind in ("external", "datasource_ext"):
            p["EXTERNAL"] = "TRUE"
        if comment:
            p["comment"] = comment
        if transactional:
            p["transactional"] = "true"
            if v >= 31:
                p["transactional_properties"] = "insert_only" if kind == "mview" else "default"
        if datasource:
            p["spark.sql.sources.provider"] = "parquet"
            p["spark.sql.sources.schema"] = spark_schema(list(cols) + list(pkeys))
            p["spark.sql.create.version"] = "3.5.1"
            if pkeys:
                p["spark.sql.partitionProvider"] = "catalog"
                p["spark.sql.sources.schema.numPartCols"] = str(len(pkeys))
                for i, (kn, _, _) in enumerate(pkeys):
                    p[f"spark.sql.sources.schema.partCol.{i}"] = kn
            else:
                p["spark.sql.statistics.numRows"] = str(nrows)
                p["spark.sql.statistics.totalSize"] = str(size)
        p.update(params or {})
        for k in sorted(p):
            w.add("TABLE_PARAMS", {"TBL_ID": tid, "PARAM_KEY": k, "PARAM_VALUE": p[k]})
        if not is_view:
            for priv in ("DELETE", "INSERT", "SELECT", "UPDATE"):
                w.add("TBL_PRIVS", {"TBL_GRANT_ID": self.nid("tp"), "CREATE_TIME": ctime, "GRANT_OPTION": 1,
                                    "GRANTOR": owner, "GRANTOR_TYPE": "USER", "PRINCIPAL_NAME": owner,
                                    "PRINCIPAL_TYPE": "USER", "TBL_PRIV": priv, "TBL_ID": tid,
                                    "AUTHORIZER": None})
        if stats and not pkeys and not is_view:
            for cn, ct, _ in cols:
                r = {"CS_ID": self.nid("tcs"), "DB_NAME": db["name"], "TABLE_NAME": name, "COLUMN_NAME": cn,
                     "COLUMN_TYPE": ct, "TBL_ID": tid, "LAST_ANALYZED": ctime + 3600, "ENGINE": "hive"}
                r.update(self.ctlg())
                r.update(col_stats(rng, ct, nrows))
                w.add("TAB_COL_STATS", r)
        if is_view:
            self.nviews += 1
        tb = {"id": tid, "db": db, "name": name, "kind": kind, "cols": cols, "pkeys": pkeys, "cd": cd,
              "location": location, "fmt": fmt, "ctime": ctime, "owner": owner, "datasource": datasource,
              "nb": nb,
              "parts": [], "nparts": 0}
        self.tables.append(tb)
        self.event("CREATE_TABLE", db["name"], name, ctime, {"table": name, "tableType": ttype,
                                                             "location": location})
        if parts:
            self.partitions(tb, parts, part_stats)
        return tb

    def _dates(self, n):
        if len(self.dates) < n:
            start = date(2020, 1, 1).toordinal() + len(self.dates)
            self.dates.extend(date.fromordinal(start + i).isoformat() for i in range(n - len(self.dates)))
        return self.dates

    def scheme_iter(self, scheme, count):
        """(values, escaped part name) for count partitions of a scale-mode scheme."""
        if scheme == "dt":
            d = self._dates(count)
            for i in range(count):
                yield [d[i]], f"dt={d[i]}"
        elif scheme == "dt_hour":
            d = self._dates(count // 24 + 1)
            for i in range(count):
                day, h = divmod(i, 24)
                yield [d[day], "%02d" % h], f"dt={d[day]}/hour={h:02d}"
        elif scheme == "region_dt":
            d = self._dates(count // len(REGIONS) + 1)
            esc = [esc_path(r) for r in REGIONS]
            for i in range(count):
                day, r = divmod(i, len(REGIONS))
                yield [REGIONS[r], d[day]], f"region={esc[r]}/dt={d[day]}"
        elif scheme == "ts":
            d = self._dates(count // 24 + 1)
            for i in range(count):
                day, h = divmod(i, 24)
                yield [f"{d[day]} {h:02d}:00:00"], f"ingest_ts={d[day]} {h:02d}%3A00%3A00"
        else:  # batch
            for i in range(count):
                yield [str(100000 + i)], f"batch_id={100000 + i}"

    def partitions(self, tb, parts, with_stats):
        """The hot path: PARTITIONS, SDS, SERDES, SERDE_PARAMS, PARTITION_KEY_VALS, PARTITION_PARAMS
        (+ PART_COL_STATS for every 10th partition when with_stats) for one table."""
        w, rng, v = self.w, self.rng, self.v
        keys = [k[0] for k in tb["pkeys"]]
        if isinstance(parts, tuple):
            count, scheme = parts
            it = self.scheme_iter(scheme, count)
        else:
            count = len(parts)
            it = (([x.translate(ESC) for x in vals], part_name(keys, vals).translate(ESC)) for vals in parts)
        if count == 0:
            return
        slib, inf, outf = FORMATS[tb["fmt"]]
        ds = tb["datasource"]
        loc0 = tb["location"]
        cd = tb["cd"]
        tid = tb["id"]
        ctime0 = tb["ctime"] + 86400
        part0 = self.take("part", count)
        sd0 = self.take("sd", count)
        serde0 = self.take("serde", count)
        serdes_tail = f"\t\\N\t{slib}\t\\N\t\\N\t\\N\t0\n" if v >= 31 else f"\t\\N\t{slib}\n"
        parts_tail = "\t0\n" if v >= 40 else "\n"
        sds_mid = f"\t{cd}\t{inf}\t0\t0\t"
        sds_tail = f"\t{tb['nb']}\t{outf}\t"
        stat_cols = tb["cols"][:3]
        P, S, SE, SP, KV, PP = [], [], [], [], [], []
        nkv = nsp = npp = 0
        acc_plain = '{"BASIC_STATS":"true"}'
        acc_cols = json.dumps({"BASIC_STATS": "true", "COLUMN_STATS": {c[0]: "true" for c in stat_cols}},
                              separators=(",", ":"))
        rr = rng.random
        for i, (vals, name) in enumerate(it):
            pid, sd, serde = part0 + i, sd0 + i, serde0 + i
            ct = ctime0 + i * 37
            loc = f"{loc0}/{name}"
            P.append(f"{pid}\t{ct}\t0\t{name}\t{sd}\t{tid}{parts_tail}")
            S.append(f"{sd}{sds_mid}{loc}{sds_tail}{serde}\n")
            SE.append(f"{serde}{serdes_tail}")
            if ds:
                SP.append(f"{serde}\tpath\t{loc}\n{serde}\tserialization.format\t1\n")
                nsp += 2
            else:
                SP.append(f"{serde}\tserialization.format\t1\n")
                nsp += 1
            for j, x in enumerate(vals):
                KV.append(f"{pid}\t{x}\t{j}\n")
            nkv += len(vals)
            nrows = int(rr() * 500000) + 1
            size = nrows * 61
            stats_here = with_stats and i % 10 == 0
            if rr() < 0.8 or stats_here:
                PP.append(f"{pid}\tCOLUMN_STATS_ACCURATE\t{acc_cols if stats_here else acc_plain}\n")
                npp += 1
            PP.append(f"{pid}\tnumFiles\t{1 + (nrows & 7)}\n{pid}\tnumRows\t{nrows}\n"
                      f"{pid}\trawDataSize\t{size * 3}\n{pid}\ttotalSize\t{size}\n"
                      f"{pid}\ttransient_lastDdlTime\t{ct}\n")
            npp += 5
            if stats_here:
                for cn, ctyp, _ in stat_cols:
                    r = {"CS_ID": self.nid("pcs"), "DB_NAME": tb["db"]["name"], "TABLE_NAME": tb["name"],
                         "PARTITION_NAME": name, "COLUMN_NAME": cn, "COLUMN_TYPE": ctyp, "PART_ID": pid,
                         "LAST_ANALYZED": ct + 600, "ENGINE": "hive"}
                    r.update(self.ctlg())
                    r.update(col_stats(rng, ctyp, nrows))
                    w.add("PART_COL_STATS", r)
            if len(P) >= 20000:
                self._flush(P, S, SE, SP, KV, PP, nsp, nkv, npp)
                P, S, SE, SP, KV, PP = [], [], [], [], [], []
                nkv = nsp = npp = 0
            if i < 3:
                tb["parts"].append((pid, name, vals))
        self._flush(P, S, SE, SP, KV, PP, nsp, nkv, npp)
        tb["nparts"] = count
        self.nparts += count
        self.event("ADD_PARTITION", tb["db"]["name"], tb["name"], ctime0,
                   {"table": tb["name"], "partitions": [p[1] for p in tb["parts"]]})

    def _flush(self, P, S, SE, SP, KV, PP, nsp, nkv, npp):
        w = self.w
        w.raw("PARTITIONS", "".join(P), len(P))
        w.raw("SDS", "".join(S), len(S))
        w.raw("SERDES", "".join(SE), len(SE))
        w.raw("SERDE_PARAMS", "".join(SP), nsp)
        w.raw("PARTITION_KEY_VALS", "".join(KV), nkv)
        w.raw("PARTITION_PARAMS", "".join(PP), npp)

    def function(self, db, name, cls, ctime=None):
        fid = self.nid("func")
        ctime = ctime or db["ctime"] + 86400
        self.w.add("FUNCS", {"FUNC_ID": fid, "CLASS_NAME": cls, "CREATE_TIME": ctime, "DB_ID": db["id"],
                             "FUNC_NAME": name, "FUNC_TYPE": 1, "OWNER_NAME": db["owner"], "OWNER_TYPE": "USER"})
        self.w.add("FUNC_RU", {"FUNC_ID": fid, "RESOURCE_TYPE": 1, "RESOURCE_URI": f"{self.wh}/udf/udfs.jar",
                               "INTEGER_IDX": 0})
        self.nfuncs += 1
        self.event("CREATE_FUNCTION", db["name"], None, ctime, {"function": name, "className": cls})

    def roles(self):
        w = self.w
        t = BASE_TIME - 500 * 86400
        ids = {}
        for name, owner in (("admin", "admin"), ("public", "public"), ("analysts", "hive")):
            ids[name] = self.nid("role")
            w.add("ROLES", {"ROLE_ID": ids[name], "CREATE_TIME": t, "OWNER_NAME": owner, "ROLE_NAME": name})
        for user, role in (("hive", "admin"), ("alice", "analysts")):
            w.add("ROLE_MAP", {"ROLE_GRANT_ID": self.nid("rolemap"), "ADD_TIME": t + 86400, "GRANT_OPTION": 0,
                               "GRANTOR": "admin", "GRANTOR_TYPE": "ROLE", "PRINCIPAL_NAME": user,
                               "PRINCIPAL_TYPE": "USER", "ROLE_ID": ids[role]})
        w.add("GLOBAL_PRIVS", {"USER_GRANT_ID": self.nid("gp"), "CREATE_TIME": t, "GRANT_OPTION": 1,
                               "GRANTOR": "admin", "GRANTOR_TYPE": "ROLE", "PRINCIPAL_NAME": "admin",
                               "PRINCIPAL_TYPE": "ROLE", "USER_PRIV": "All", "AUTHORIZER": None})

    def column_grants(self, tb):
        """A column grant, a partition grant and a partition column grant for role analysts."""
        w = self.w
        t = tb["ctime"] + 7200
        w.add("TBL_COL_PRIVS", {"TBL_COLUMN_GRANT_ID": self.nid("tcp"), "COLUMN_NAME": tb["cols"][0][0],
                                "CREATE_TIME": t, "GRANT_OPTION": 0, "GRANTOR": tb["owner"],
                                "GRANTOR_TYPE": "USER", "PRINCIPAL_NAME": "analysts", "PRINCIPAL_TYPE": "ROLE",
                                "TBL_COL_PRIV": "SELECT", "TBL_ID": tb["id"],
                                "AUTHORIZER": "org.apache.hadoop.hive.ql.security.authorization.plugin.sqlstd.SQLStdHiveAuthorizerFactory"})
        if tb["parts"]:
            pid = tb["parts"][0][0]
            w.add("PART_PRIVS", {"PART_GRANT_ID": self.nid("pp"), "CREATE_TIME": t, "GRANT_OPTION": 0,
                                 "GRANTOR": tb["owner"], "GRANTOR_TYPE": "USER", "PART_ID": pid,
                                 "PRINCIPAL_NAME": "analysts", "PRINCIPAL_TYPE": "ROLE", "PART_PRIV": "SELECT"})
            w.add("PART_COL_PRIVS", {"PART_COLUMN_GRANT_ID": self.nid("pcp"), "COLUMN_NAME": tb["cols"][0][0],
                                     "CREATE_TIME": t, "GRANT_OPTION": 0, "GRANTOR": tb["owner"],
                                     "GRANTOR_TYPE": "USER", "PART_ID": pid, "PRINCIPAL_NAME": "alice",
                                     "PRINCIPAL_TYPE": "USER", "PART_COL_PRIV": "SELECT"})

    def acid(self, tb):
        """ACID state around one transactional table: committed, aborted and open transactions, locks
        (one acquired by an open txn, one waiting behind it), write ids, compactions."""
        w, v = self.w, self.v
        db, tbl = tb["db"]["name"], tb["name"]
        part = tb["parts"][0][1] if tb["parts"] else None
        ms = (BASE_TIME - 3600) * 1000
        committed, aborted, open1, open2 = 9, 11, 12, 13
        writeids = {9: 1, 10: 2, 11: 3, 12: 4}
        txns = [(t, "c") for t in (9, 10)] if v >= 40 else []
        txns += [(aborted, "a"), (open1, "o"), (open2, "o")]
        for t, st in txns:
            w.add("TXNS", {"TXN_ID": t, "TXN_STATE": st, "TXN_STARTED": ms + t * 1000,
                           "TXN_LAST_HEARTBEAT": ms + t * 1000 + 30000, "TXN_USER": "etl",
                           "TXN_HOST": "worker-3.lake.internal", "TXN_AGENT_INFO": f"hive_20260101_{t:04d}",
                           "TXN_META_INFO": None, "TXN_HEARTBEAT_COUNT": None, "TXN_TYPE": 0})
        for t in (aborted, open1):
            w.add("TXN_COMPONENTS", {"TC_TXNID": t, "TC_DATABASE": db, "TC_TABLE": tbl, "TC_PARTITION": part,
                                     "TC_OPERATION_TYPE": "i", "TC_WRITEID": writeids[t]})
        for t in (committed, 10):
            w.add("COMPLETED_TXN_COMPONENTS", {"CTC_TXNID": t, "CTC_DATABASE": db, "CTC_TABLE": tbl,
                                               "CTC_PARTITION": part, "CTC_TIMESTAMP": "2025-12-31 22:00:00",
                                               "CTC_WRITEID": writeids[t], "CTC_UPDATE_DELETE": "N"})
        w.add("WRITE_SET", {"WS_DATABASE": db, "WS_TABLE": tbl, "WS_PARTITION": part, "WS_TXNID": 10,
                            "WS_COMMIT_ID": 11, "WS_OPERATION_TYPE": "u"})
        locks = [(21, open1, "a", "w", None), (22, open2, "w", "e", 21)]
        for ext, t, st, typ, blocked in locks:
            w.add("HIVE_LOCKS", {"HL_LOCK_EXT_ID": ext, "HL_LOCK_INT_ID": 1, "HL_TXNID": t, "HL_DB": db,
                                 "HL_TABLE": tbl, "HL_PARTITION": part, "HL_LOCK_STATE": st, "HL_LOCK_TYPE": typ,
                                 "HL_LAST_HEARTBEAT": 0,
                                 "HL_ACQUIRED_AT": ms + 2000 if st == "a" else None, "HL_USER": "etl",
                                 "HL_HOST": "worker-3.lake.internal", "HL_HEARTBEAT_COUNT": None,
                                 "HL_AGENT_INFO": f"hive_20260101_{t:04d}", "HL_BLOCKEDBY_EXT_ID": blocked,
                                 "HL_BLOCKEDBY_INT_ID": 1 if blocked else None})
        w.add("NEXT_LOCK_ID", {"NL_NEXT": 23})
        if v <= 31:
            w.add("NEXT_TXN_ID", {"NTXN_NEXT": 14})
        if v >= 31:
            for t, wid in writeids.items():
                w.add("TXN_TO_WRITE_ID", {"T2W_TXNID": t, "T2W_DATABASE": db, "T2W_TABLE": tbl, "T2W_WRITEID": wid})
            w.add("NEXT_WRITE_ID", {"NWI_DATABASE": db, "NWI_TABLE": tbl, "NWI_NEXT": 5})
        if v == 31:
            for t in (open1, open2):
                w.add("MIN_HISTORY_LEVEL", {"MHL_TXNID": t, "MHL_MIN_OPEN_TXNID": open1})
        if v >= 40:
            w.add("MIN_HISTORY_WRITE_ID", {"MH_TXNID": open1, "MH_DATABASE": db, "MH_TABLE": tbl, "MH_WRITEID": 4})
        hw = {"CQ_HIGHEST_TXN_ID": 10} if v < 31 else {"CQ_HIGHEST_WRITE_ID": 2}
        w.add("COMPACTION_QUEUE", dict(CQ_ID=3, CQ_DATABASE=db, CQ_TABLE=tbl, CQ_PARTITION=part, CQ_STATE="i",
                                       CQ_TYPE="a", CQ_RUN_AS="etl", CQ_ENQUEUE_TIME=ms, CQ_RETRY_RETENTION=0, **hw))
        for cc, st in ((1, "s"), (2, "f")):
            chw = {"CC_HIGHEST_TXN_ID": 8} if v < 31 else {"CC_HIGHEST_WRITE_ID": 1}
            w.add("COMPLETED_COMPACTIONS", dict(CC_ID=cc, CC_DATABASE=db, CC_TABLE=tbl, CC_PARTITION=part,
                                                CC_STATE=st, CC_TYPE="i", CC_WORKER_ID=f"worker-3-{cc}",
                                                CC_START=ms - 7200000, CC_END=ms - 7000000, CC_RUN_AS="etl",
                                                CC_ENQUEUE_TIME=ms - 7300000, **chw))
        w.add("NEXT_COMPACTION_QUEUE_ID", {"NCQ_NEXT": 4})

    def finish(self, with_default_acid=True):
        """NOTIFICATION_LOG, NOTIFICATION_SEQUENCE, SEQUENCE_TABLE and, when no ACID table was made,
        the NEXT_* counters."""
        w = self.w
        evs = self.events[:8] + [e for e in self.events[8:] if e[0] != "CREATE_TABLE"][:12] + \
            [e for e in self.events[8:] if e[0] == "CREATE_TABLE"][:10]
        evs.sort(key=lambda e: e[3])
        eid = 0
        for etype, db, tbl, t, body in evs:
            eid += 1
            msg = {"server": "thrift://metastore.lake.internal:9083", "servicePrincipal": "", "db": db,
                   "timestamp": t}
            msg.update(body)
            row = {"NL_ID": self.nid("nl"), "EVENT_ID": eid, "EVENT_TIME": t, "EVENT_TYPE": etype,
                   "DB_NAME": db, "TBL_NAME": tbl, "MESSAGE_FORMAT": "json-0.2",
                   "MESSAGE": json.dumps(msg, separators=(",", ":"), ensure_ascii=False)}
            row.update(self.ctlg())
            w.add("NOTIFICATION_LOG", row)
        w.add("NOTIFICATION_SEQUENCE", {"NNI_ID": 1, "NEXT_EVENT_ID": eid + 1})
        if w.n.get("NEXT_LOCK_ID", 0) == 0:
            w.add("NEXT_LOCK_ID", {"NL_NEXT": 1})
            w.add("NEXT_COMPACTION_QUEUE_ID", {"NCQ_NEXT": 1})
            if self.v <= 31:
                w.add("NEXT_TXN_ID", {"NTXN_NEXT": 1})
        rows = []
        for model, counter, since in SEQ_MODELS:
            if self.v < since:
                continue
            mx = self.ids.get(counter, 0)
            if mx == 0 and model not in ("MNotificationLog", "MDatabase", "MTable"):
                continue
            rows.append((f"org.apache.hadoop.hive.metastore.model.{model}", next_val(mx)))
        if self.v >= 40:
            rows.append(("org.apache.hadoop.hive.metastore.model.MTxnWriteNotificationLog", 1))
        for name, nv in sorted(rows):
            w.add("SEQUENCE_TABLE", {"SEQUENCE_NAME": name, "NEXT_VAL": nv})


def allocate(total, weights):
    """Split total into integer parts proportional to weights (largest remainder)."""
    s = sum(weights)
    if s <= 0 or total <= 0:
        return [0] * len(weights)
    raw = [total * x / s for x in weights]
    out = [int(r) for r in raw]
    rest = total - sum(out)
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[:rest]:
        out[i] += 1
    return out


def build_sample(g):
    """--sample retail: a small hand-made metastore, the same for every run and engine."""
    v, wh, ext = g.v, g.wh, g.ext
    g.roles()
    g.database("default", "Default Hive database", wh, owner="public", owner_type="ROLE",
               ctime=BASE_TIME - 600 * 86400)
    retail = g.database("retail", "Boutique de démonstration: commandes, clients, magasins",
                        f"{wh}/retail.db", owner="etl",
                        params={"owner.team": "ventes", "site": "Zürich", "created.by": "gen.py"},
                        managed=f"{wh}/managed/retail.db" if v >= 40 else None,
                        ctime=BASE_TIME - 420 * 86400)
    staging = g.database("staging", "Rohdaten aus Köln und São Paulo", f"{wh}/staging.db", owner="etl",
                         ctime=BASE_TIME - 410 * 86400)
    t0 = BASE_TIME - 400 * 86400
    dep = g.table(retail, "departments", [("department_id", "int", "identifiant"),
                                          ("department_name", "string", "libellé")],
                  fmt="orc", stats=True, ctime=t0)
    cat = g.table(retail, "categories", [("category_id", "int", None), ("category_department_id", "int", None),
                                         ("category_name", "string", "catégorie")],
                  fmt="text", serde_params={"field.delim": "|"}, stats=True, ctime=t0 + 60)
    prod = g.table(retail, "products", [("product_id", "int", None), ("product_category_id", "int", None),
                                        ("product_name", "string", None),
                                        ("product_description", "string", "description (français/deutsch)"),
                                        ("product_price", "decimal(10,2)", "prix unitaire"),
                                        ("product_image", "string", None)],
                   fmt="orc", buckets=(4, ["product_id"]), sort=[("product_id", 1)], stats=True, ctime=t0 + 120)
    g.table(retail, "customers", [("customer_id", "int", None), ("customer_fname", "string", "prénom"),
                                  ("customer_lname", "string", None), ("customer_email", "string", None),
                                  ("customer_street", "string", None), ("customer_city", "string", "ville"),
                                  ("customer_state", "string", None), ("customer_zipcode", "string", None),
                                  ("country", "string", None)],
            fmt="parquet", comment="Clients (Zürich, São Paulo, Köln)", skew=(["country"], [["CH"], ["BR"]]),
            stats=True, ctime=t0 + 180)
    orders = g.table(retail, "orders", [("order_id", "int", "numéro de commande"), ("order_date", "timestamp", None),
                                        ("order_customer_id", "int", None),
                                        ("order_amount", "decimal(12,2)", "montant")],
                     pkeys=[("order_status", "string", "état")], fmt="orc", transactional=True,
                     buckets=(4, ["order_id"]) if v < 31 else None,
                     parts=[["COMPLETE"], ["CLOSED"], ["PENDING"], ["ON HOLD"]], part_stats=True, ctime=t0 + 240)
    g.table(retail, "order_items", [("order_item_id", "bigint", None), ("order_item_order_id", "int", None),
                                    ("order_item_product_id", "int", None), ("order_item_quantity", "int", None),
                                    ("order_item_subtotal", "decimal(12,2)", None),
                                    ("order_item_product_price", "decimal(10,2)", None)],
            pkeys=[("order_month", "string", None)], fmt="parquet",
            parts=[["2025-10"], ["2025-11"], ["2025-12"], ["2026-01"]], part_stats=True, ctime=t0 + 300)
    ocols = orders["cols"] + orders["pkeys"]
    g.table(retail, "completed_orders", ocols, kind="view",
            view=("SELECT * FROM retail.orders WHERE order_status='COMPLETE'",
                  "SELECT `orders`.`order_id`, `orders`.`order_date`, `orders`.`order_customer_id`, "
                  "`orders`.`order_amount`, `orders`.`order_status` FROM `retail`.`orders` "
                  "WHERE `orders`.`order_status`='COMPLETE'"), ctime=t0 + 360)
    g.table(retail, "stores", [("store_id", "int", None), ("store_name", "string", None), ("city", "string", None),
                               ("country", "string", None), ("opened", "date", "date d'ouverture")],
            kind="external", fmt="text", location=f"{ext}/retail/stores", serde_params={"field.delim": ","},
            comment="Magasins à Zürich, São Paulo et Köln", ctime=t0 + 420)
    g.table(retail, "daily_revenue", [("day", "date", None), ("revenue", "decimal(18,2)", None),
                                      ("orders", "bigint", None)], kind="datasource", fmt="parquet",
            ctime=t0 + 480)
    if v >= 31:
        mv = g.table(retail, "mv_order_totals", [("order_status", "string", None), ("total", "decimal(22,2)", None)],
                     kind="mview", fmt="orc", transactional=True,
                     view=("SELECT order_status, sum(order_amount) AS total FROM retail.orders GROUP BY order_status",
                           "SELECT `orders`.`order_status`, sum(`orders`.`order_amount`) AS `total` FROM "
                           "`retail`.`orders` GROUP BY `orders`.`order_status`"), ctime=t0 + 540)
        mvid = g.nid("mv")
        g.w.add("MV_CREATION_METADATA", {"MV_CREATION_METADATA_ID": mvid, "CAT_NAME": "hive", "DB_NAME": "retail",
                                         "TBL_NAME": "mv_order_totals",
                                         "TXN_LIST": "retail.orders:8:9223372036854775807::",
                                         "MATERIALIZATION_TIME": (t0 + 540) * 1000})
        g.w.add("MV_TABLES_USED", {"MV_CREATION_METADATA_ID": mvid, "TBL_ID": orders["id"], "INSERTED_COUNT": 0,
                                   "UPDATED_COUNT": 0, "DELETED_COUNT": 0})
    g.function(retail, "normalize_city", "com.example.hive.udf.NormalizeCity")
    g.table(staging, "raw_orders", [("payload", "string", "JSON brut"), ("received_at", "timestamp", None),
                                    ("source_file", "string", None)],
            pkeys=[("source", "string", "Quelle"), ("ingest_ts", "string", None)], kind="external", fmt="avro",
            location=f"{ext}/staging/raw_orders",
            params={"avro.schema.url": f"{ext}/schemas/raw_orders.avsc"},
            parts=[["Zürich/Nord", "2026-01-05 03:00:00"], ["São Paulo", "2026-01-05 04:00:00"],
                   ["Köln", "2026-01-05 05:00:00"]], ctime=t0 + 600)
    # key constraints: primary keys of departments and categories, products -> categories, NOT NULL
    w = g.w
    kc = [(None, None, None, dep["cd"], 0, dep["id"], 1, "pk_departments", 0, None, None, 1),
          (None, None, None, cat["cd"], 0, cat["id"], 1, "pk_categories", 0, None, None, 1),
          (prod["cd"], 1, prod["id"], cat["cd"], 0, cat["id"], 1, "fk_products_category", 1, 0, 0, 1)]
    if v >= 31:
        kc.append((None, None, None, orders["cd"], 0, orders["id"], 1, "nn_orders_order_id", 3, None, None, 5))
    for r in kc:
        w.add("KEY_CONSTRAINTS", dict(zip(("CHILD_CD_ID", "CHILD_INTEGER_IDX", "CHILD_TBL_ID", "PARENT_CD_ID",
                                           "PARENT_INTEGER_IDX", "PARENT_TBL_ID", "POSITION", "CONSTRAINT_NAME",
                                           "CONSTRAINT_TYPE", "UPDATE_RULE", "DELETE_RULE",
                                           "ENABLE_VALIDATE_RELY"), r)))
    g.column_grants(orders)
    g.acid(orders)
    if v >= 31:
        rp, pool = g.nid("rp"), g.nid("pool")
        w.add("WM_RESOURCEPLAN", {"RP_ID": rp, "NAME": "daytime", "QUERY_PARALLELISM": 4, "STATUS": "DISABLED",
                                  "DEFAULT_POOL_ID": pool, "NS": "default"})
        w.add("WM_POOL", {"POOL_ID": pool, "RP_ID": rp, "PATH": "etl", "ALLOC_FRACTION": 0.5,
                          "QUERY_PARALLELISM": 2, "SCHEDULING_POLICY": "fair"})
        w.add("WM_TRIGGER", {"TRIGGER_ID": 1, "RP_ID": rp, "NAME": "slow_query",
                             "TRIGGER_EXPRESSION": "EXECUTION_TIME > 60000", "ACTION_EXPRESSION": "KILL",
                             "IS_IN_UNMANAGED": 0})
        w.add("WM_POOL_TO_TRIGGER", {"POOL_ID": pool, "TRIGGER_ID": 1})
        w.add("WM_MAPPING", {"MAPPING_ID": 1, "RP_ID": rp, "ENTITY_TYPE": "USER", "ENTITY_NAME": "alice",
                             "POOL_ID": pool, "ORDERING": 0})
    if v >= 40:
        w.add("DATACONNECTORS", {"NAME": "mysql_crm", "TYPE": "mysql", "URL": "jdbc:mysql://crm.lake.internal:3306",
                                 "COMMENT": "CRM (Genève)", "OWNER_NAME": "etl", "OWNER_TYPE": "USER",
                                 "CREATE_TIME": t0})
        w.add("DATACONNECTOR_PARAMS", {"NAME": "mysql_crm", "PARAM_KEY": "hive.sql.dbcp.username",
                                       "PARAM_VALUE": "crm_reader"})
        g.database("crm_remote", "Remote CRM database", f"{wh}/crm_remote.db", owner="etl", dbtype="REMOTE",
                   connector="mysql_crm", remote="crm", ctime=t0 + 700)
        w.add("SCHEDULED_QUERIES", {"SCHEDULED_QUERY_ID": g.nid("sq"), "CLUSTER_NAMESPACE": "hive",
                                    "ENABLED": True, "NEXT_EXECUTION": BASE_TIME + 3600,
                                    "QUERY": "ALTER MATERIALIZED VIEW retail.mv_order_totals REBUILD",
                                    "SCHEDULE": "0 0 * * * ? *", "SCHEDULE_NAME": "rebuild_mv_order_totals",
                                    "USER": "etl", "ACTIVE_EXECUTION_ID": None})
    g.finish()


def build_scale(g, ndb, ntables, nparts):
    """--databases N --tables T --partitions P: generated databases and tables of many shapes."""
    rng, v, wh = g.rng, g.v, g.wh
    g.roles()
    g.database("default", "Default Hive database", wh, owner="public", owner_type="ROLE",
               ctime=BASE_TIME - 900 * 86400)
    dbs = []
    for i in range(ndb):
        name = DB_WORDS[i % len(DB_WORDS)] + (f"_{i // len(DB_WORDS) + 1}" if i >= len(DB_WORDS) else "")
        managed = f"{wh}/managed/{name}.db" if (v >= 40 and i % 2 == 0) else None
        dbs.append(g.database(name, f"Données {name} (générées)", f"{wh}/{name}.db",
                              owner=rng.choice(["etl", "alice", "bob"]),
                              params={"owner.team": name, "retention.days": str(rng.choice([30, 90, 365]))},
                              managed=managed))
    # tables per database, uneven
    per_db = allocate(ntables, [rng.uniform(0.3, 3.0) for _ in dbs]) if dbs else []
    if ntables >= len(dbs):
        for i in range(len(per_db)):  # every database gets a table
            if per_db[i] == 0:
                j = max(range(len(per_db)), key=lambda k: per_db[k])
                per_db[j] -= 1
                per_db[i] += 1
    nviews = max(1, round(ntables * 0.015)) if ntables >= 10 else 0
    # kinds of the tables (views are made last in their database, over a table of it)
    plan = []
    for di, n in enumerate(per_db):
        for k in range(n):
            plan.append([di, "managed"])
    idx = list(range(len(plan)))
    rng.shuffle(idx)
    views = set()
    vcount = [0] * len(dbs)
    for i in idx:  # at most a third of a database's tables are views (each over another table)
        if len(views) >= nviews:
            break
        di = plan[i][0]
        if vcount[di] < per_db[di] // 3 or (vcount[di] == 0 and per_db[di] >= 2):
            views.add(i)
            vcount[di] += 1
    rest = [i for i in idx if i not in views]
    n_ext, n_ds = round(ntables * 0.10), round(ntables * 0.20)
    for i in views:
        plan[i][1] = "view"
    for i in rest[:n_ext]:
        plan[i][1] = "external"
    for i in rest[n_ext:n_ext + n_ds]:
        plan[i][1] = "datasource"
    nonview = [i for i in range(len(plan)) if plan[i][1] != "view"]
    partitioned = set(i for i in nonview if rng.random() < 0.7)
    if nparts and not partitioned and nonview:
        partitioned.add(nonview[0])
    # special tables among managed, unpartitioned ones: transactional, skewed, bucketed, avro
    special = [i for i in nonview if plan[i][1] == "managed"]
    acid_i = special[0] if special else None
    if acid_i is not None:
        partitioned.add(acid_i)
    others = [i for i in special if i not in partitioned]
    skew_i, bucket_i, avro_i = (others + [None] * 3)[:3]
    # partitions per table: uneven (Zipf-like over a shuffled order)
    plist = sorted(partitioned)
    order = plist[:]
    rng.shuffle(order)
    weights = {t: 1.0 / (rank + 1) ** 0.9 for rank, t in enumerate(order)}
    counts = dict(zip(plist, allocate(nparts, [weights[t] for t in plist])))
    schemes = ["dt", "dt_hour", "region_dt", "ts", "batch"]
    used = {}
    made = {}
    acid_tb = None
    for i, (di, kind) in enumerate(plan):
        db = dbs[di]
        if kind == "view":
            continue
        base = TABLE_WORDS[rng.randrange(len(TABLE_WORDS))]
        key = (di, base)
        used[key] = used.get(key, 0) + 1
        name = f"{base}_{used[key]:04d}"
        ncols = rng.randrange(3, 13)
        cols = rng.sample(COLUMN_POOL, ncols)
        if kind == "datasource":
            fmt = "parquet"
        elif i == avro_i:
            fmt = "avro"
        else:
            fmt = rng.choice(["orc", "orc", "parquet", "text"])
        if i == acid_i:
            fmt = "orc"
        pkeys, parts = (), None
        if i in partitioned:
            scheme = rng.choice(schemes) if i != acid_i else "dt"
            pkeys = {"dt": [("dt", "string", "jour")], "dt_hour": [("dt", "string", None), ("hour", "string", None)],
                     "region_dt": [("region", "string", "région"), ("dt", "string", None)],
                     "ts": [("ingest_ts", "string", None)], "batch": [("batch_id", "int", None)]}[scheme]
            parts = (counts.get(i, 0), scheme)
        kw = {}
        if i == skew_i:
            kw["skew"] = ([cols[0][0]], [["Zürich"], ["São Paulo"]])
        if i == bucket_i:
            kw["buckets"] = (8, [cols[0][0]])
            kw["sort"] = [(cols[0][0], 1)]
        if i == avro_i:
            kw["params"] = {"avro.schema.url": f"{g.ext}/schemas/{db['name']}_{name}.avsc"}
        if i == acid_i and v < 31:
            kw["buckets"] = (4, [cols[0][0]])
        if fmt == "text":
            kw["serde_params"] = {"field.delim": "\t" if rng.random() < 0.5 else "|"}
        tkind = {"datasource": "datasource", "external": "external"}.get(kind, "managed")
        if kind == "datasource" and rng.random() < 0.3:
            tkind = "datasource_ext"
        tb = g.table(db, name, cols, kind=tkind, fmt=fmt, pkeys=pkeys, parts=parts,
                     transactional=(i == acid_i), stats=(not pkeys and rng.random() < 0.33),
                     part_stats=(rng.random() < 0.5), comment=rng.choice([None, None, "table générée",
                                                                          "Tabelle für Köln"]), **kw)
        made.setdefault(di, []).append(tb)
        if i == acid_i:
            acid_tb = tb
    vseen = [0] * len(dbs)
    for i in sorted(views):
        di = plan[i][0]
        db = dbs[di]
        base = made[di][vseen[di] % len(made[di])]
        vseen[di] += 1
        vcols = (list(base["cols"]) + list(base["pkeys"]))[:6]
        clist = ", ".join(c[0] for c in vcols)
        elist = ", ".join(f"`{base['name']}`.`{c[0]}`" for c in vcols)
        g.table(db, f"v_{base['name']}", vcols, kind="view",
                view=(f"SELECT {clist} FROM {db['name']}.{base['name']}",
                      f"SELECT {elist} FROM `{db['name']}`.`{base['name']}`"))
    for db in dbs:
        g.function(db, "mask_email", "com.example.hive.udf.MaskEmail")
    if acid_tb:
        g.column_grants(acid_tb)
        g.acid(acid_tb)
    g.finish()


# ---------------------------------------------------------------------------------------------
# Database clients (the command-line clients only)
# ---------------------------------------------------------------------------------------------

def parse_url(url):
    u = urllib.parse.urlsplit(url)
    scheme = u.scheme.lower()
    if scheme in ("mysql", "mariadb"):
        engine, port = "m", 3306
    elif scheme in ("postgres", "postgresql"):
        engine, port = "p", 5432
    else:
        raise GenError(f"bad --url {url!r}: scheme must be mysql://, mariadb://, postgres:// or postgresql://")
    db = urllib.parse.unquote(u.path.lstrip("/"))
    if not db or "/" in db:
        raise GenError(f"bad --url {url!r}: no database name (…/DB)")
    try:
        port = u.port or port
    except ValueError:
        raise GenError(f"bad --url {url!r}: bad port")
    return {"engine": engine, "host": u.hostname or "127.0.0.1", "port": port,
            "user": urllib.parse.unquote(u.username or ("root" if engine == "m" else "postgres")),
            "password": urllib.parse.unquote(u.password or ""), "database": db}


class Client:
    def __init__(self, conn, tmpdir):
        self.c = conn
        self.tmp = tmpdir
        self.d = None

    def run_many(self, sqls, what):
        """Runs each script in its own client session, all at once; returns their outputs."""
        procs = []
        for sql in sqls:
            self.n = getattr(self, "n", 0) + 1
            base = os.path.join(self.tmp, f"s{self.n}")
            with open(base + ".sql", "w", encoding="utf-8") as f:
                f.write(sql)
            fo, fe = open(base + ".out", "w"), open(base + ".err", "w")
            procs.append((self.spawn(base + ".sql", fo, fe), base, fo, fe))
        outs, errs = [], []
        for p, base, fo, fe in procs:
            rc = p.wait()
            fo.close()
            fe.close()
            outs.append(open(base + ".out", encoding="utf-8").read())
            if rc != 0:
                err = open(base + ".err", encoding="utf-8", errors="replace").read().strip().splitlines()
                errs.append(" | ".join(err[-5:]) if err else f"client exit status {rc}")
        if errs:
            raise GenError(f"{what}: " + " || ".join(errs))
        return outs

    def run(self, sql, what):
        return self.run_many([sql], what)[0]


class MariaDB(Client):
    name = "mariadb"

    def __init__(self, conn, tmpdir):
        super().__init__(conn, tmpdir)
        self.bin = shutil.which("mariadb") or shutil.which("mysql")
        if not self.bin:
            raise GenError("neither `mariadb` nor `mysql` client found on PATH")
        self.cnf = os.path.join(tmpdir, "client.cnf")
        with open(os.open(self.cnf, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"[client]\nuser={conn['user']}\npassword={conn['password']}\nhost={conn['host']}\n"
                    f"port={conn['port']}\nprotocol=TCP\n")

    def spawn(self, script, fo, fe):
        return subprocess.Popen([self.bin, f"--defaults-extra-file={self.cnf}", "--local-infile=1", "--batch",
                                 "--skip-column-names", "--default-character-set=utf8mb4", "--connect-timeout=10",
                                 self.c["database"]], stdin=open(script, "rb"), stdout=fo, stderr=fe)

    def probe(self):
        out = self.run("SELECT VERSION(), (SELECT COUNT(*) FROM information_schema.tables "
                       "WHERE table_schema = DATABASE());", "cannot connect")
        ver, n = out.strip().split("\t")
        self.flavor = "mariadb" if "mariadb" in ver.lower() else "mysql"
        return ver, int(n)

    def prelude(self):
        return ("SET SESSION foreign_key_checks = 0;\nSET SESSION unique_checks = 0;\n"
                "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO');\n")

    def create_sql(self, schema, d):
        db = q_m(self.c["database"])
        return (f"ALTER DATABASE {db} CHARACTER SET latin1 COLLATE latin1_bin;\n" + self.prelude() +
                "\n".join(d.create_table(t) for t in schema.tables) + "\n")

    def load_sql(self, schema, d, w, tables):
        out = [self.prelude()]
        for t in tables:
            if not w.n[t.name]:
                continue
            cols, sets = [], []
            for c in t.columns:
                if c.is_bit():
                    cols.append(f"@b_{c.name}")
                    sets.append(f"{q_m(c.name)} = CAST(@b_{c.name} AS UNSIGNED)")
                else:
                    cols.append(q_m(c.name))
            path = w.path(t.name).replace("\\", "\\\\").replace("'", "\\'")
            s = (f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {d.qt(t)} CHARACTER SET latin1 "
                 f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({', '.join(cols)})")
            if sets:
                s += " SET " + ", ".join(sets)
            out.append(s + ";\nSHOW WARNINGS;")
        return "\n".join(out) + "\n"

    def index_sql(self, d, tables):
        return self.prelude() + "\n".join(s for t in tables for s in d.post_load(t)[0]) + "\n"

    def fk_sql(self, schema, d):
        return self.prelude() + "\n".join(s for t in schema.tables for s in d.post_load(t)[1]) + "\n"

    def count_sql(self, schema, d):
        return " UNION ALL ".join(f"SELECT '{t.name}', COUNT(*) FROM {d.qt(t)}" for t in schema.tables) + ";"


class Postgres(Client):
    name = "postgres"
    flavor = "postgres"

    def __init__(self, conn, tmpdir):
        super().__init__(conn, tmpdir)
        self.bin = shutil.which("psql")
        if not self.bin:
            raise GenError("`psql` client not found on PATH")

    def spawn(self, script, fo, fe):
        env = dict(os.environ, PGPASSWORD=self.c["password"], PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="10")
        return subprocess.Popen([self.bin, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                                 "-h", self.c["host"], "-p", str(self.c["port"]), "-U", self.c["user"],
                                 "-d", self.c["database"], "-f", script],
                                stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=env)

    def probe(self):
        out = self.run("SELECT version(), (SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                       "AND c.relkind IN ('r','p','v','m','S','f'));", "cannot connect")
        ver, n = out.strip().split("\t")
        return ver, int(n)

    def create_sql(self, schema, d):
        return "\n".join(d.create_table(t) for t in schema.tables) + "\n"

    def load_sql(self, schema, d, w, tables):
        out = ["SET synchronous_commit = off;"]
        for t in tables:
            if not w.n[t.name]:
                continue
            cols = ", ".join(d.qc(t, c) for c in t.colnames())
            path = w.path(t.name).replace("'", "''")
            out.append(f"\\copy {d.qt(t)} ({cols}) FROM '{path}'")
        # serial columns continue after the loaded ids
        for t in tables:
            for c in t.columns:
                if c.ai and w.n[t.name]:
                    out.append(f"SELECT setval(pg_get_serial_sequence('{d.qt(t)}', '{d.cname(t, c.name)}'), "
                               f"(SELECT GREATEST(MAX({d.qc(t, c.name)}), 1) FROM {d.qt(t)}));")
        return "\n".join(out) + "\n"

    def index_sql(self, d, tables):
        return ("SET maintenance_work_mem = '256MB';\n" +
                "\n".join(s for t in tables for s in d.post_load(t)[0]) + "\n")

    def fk_sql(self, schema, d):
        return "\n".join(s for t in schema.tables for s in d.post_load(t)[1]) + "\nANALYZE;\n"

    def count_sql(self, schema, d):
        return " UNION ALL ".join(f"SELECT '{t.name}', COUNT(*) FROM {d.qt(t)}" for t in schema.tables) + ";"


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(prog="gen.py", description="Synthetic Hive Metastore generator (tests/hms/README.md)")
    ap.add_argument("--url", required=True, help="mysql://U:P@HOST:PORT/DB (mariadb://) or postgres://U:P@HOST:PORT/DB")
    ap.add_argument("--layout", required=True, choices=sorted(LAYOUTS), help="Hive schema layout")
    ap.add_argument("--schema-only", action="store_true", help="only the empty schema and the rows Hive's script inserts")
    ap.add_argument("--sample", choices=["retail"], help="small hand-made demo content")
    ap.add_argument("--databases", type=int, help="scale mode: N databases (plus `default`)")
    ap.add_argument("--tables", type=int, help="scale mode: T tables in all (views included)")
    ap.add_argument("--partitions", type=int, help="scale mode: P partitions in all")
    ap.add_argument("--warehouse", default="gs://lake-us/warehouse")
    ap.add_argument("--external", default="gs://lake-us/external")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-tsv", metavar="DIR", help="write the TSV files to DIR and keep them")
    ap.add_argument("--verbose", action="store_true", help="phases and timings on stderr")
    args = ap.parse_args(argv)
    scale = [args.databases, args.tables, args.partitions]
    modes = int(args.schema_only) + int(args.sample is not None) + int(any(x is not None for x in scale))
    if modes != 1:
        ap.error("give exactly one of --schema-only, --sample retail, --databases/--tables/--partitions")
    if any(x is not None for x in scale):
        if any(x is None or x < 0 for x in scale):
            ap.error("scale mode needs --databases N --tables T --partitions P (all >= 0)")
        if args.databases == 0 and args.tables:
            ap.error("--tables needs --databases >= 1")
        if args.partitions and not args.tables:
            ap.error("--partitions needs --tables >= 1")
    try:
        return run(args)
    except GenError as e:
        print(f"gen.py: error: {e}", file=sys.stderr)
        return 1


def run(args):
    t_start = time.time()
    conn = parse_url(args.url)
    v = LAYOUTS[args.layout]
    log = (lambda *a: print("gen.py:", *a, file=sys.stderr)) if args.verbose else (lambda *a: None)
    tmp = tempfile.mkdtemp(prefix="tandem-hms-gen.")
    try:
        cli = (MariaDB if conn["engine"] == "m" else Postgres)(conn, tmp)
        ver, ntab = cli.probe()
        log("server:", ver.splitlines()[0])
        if ntab:
            raise GenError(f"database {conn['database']!r} is not empty ({ntab} tables/views/sequences); "
                           "gen.py only fills an empty database")
        schema = Schema(v)
        d = schema.dialect(conn["engine"])
        all_cols = {}
        for vv in LAYOUTS.values():
            for t in parse_schema(vv):
                all_cols.setdefault(t.name, set()).update(t.colnames())
        _check_hot_tables(schema)
        t0 = time.time()
        cli.run(cli.create_sql(schema, d), "creating the schema failed")
        t_schema = time.time() - t0
        log(f"schema: {len(schema.tables)} tables in {t_schema:.1f}s")
        t0 = time.time()
        tsvdir = args.keep_tsv or os.path.join(tmp, "tsv")
        os.makedirs(tsvdir, exist_ok=True)
        w = Writer(schema, all_cols, os.path.abspath(tsvdir), "latin-1" if conn["engine"] == "m" else "utf-8")
        g = Gen(v, w, args, random.Random(args.seed))
        g.seed(args.schema_only)
        if args.sample:
            build_sample(g)
        elif not args.schema_only:
            build_scale(g, args.databases, args.tables, args.partitions)
        w.close()
        t_gen = time.time() - t0
        log(f"generate: {sum(w.n.values())} rows in {t_gen:.1f}s")
        # two client sessions at once (2 cores), tables split evenly by rows
        groups = [[], []]
        size = [0, 0]
        for t in sorted(schema.tables, key=lambda t: -w.n[t.name]):
            k = 0 if size[0] <= size[1] else 1
            groups[k].append(t)
            size[k] += w.n[t.name] + 1
        t0 = time.time()
        outs = cli.run_many([cli.load_sql(schema, d, w, g) for g in groups], "bulk load failed")
        out = "".join(outs).strip()
        if conn["engine"] == "m" and out:
            raise GenError("LOAD DATA reported warnings: " + " | ".join(out.splitlines()[:5]))
        t_load = time.time() - t0
        log(f"load: {t_load:.1f}s")
        t0 = time.time()
        cli.run_many([cli.index_sql(d, g) for g in groups], "creating indexes/keys failed")
        log(f"indexes: {time.time() - t0:.1f}s")
        cli.run(cli.fk_sql(schema, d), "creating foreign keys failed")
        t_cons = time.time() - t0
        log(f"constraints: {t_cons:.1f}s")
        counts = {}
        for line in cli.run(cli.count_sql(schema, d), "counting rows failed").strip().splitlines():
            name, n = line.split("\t")
            counts[name] = int(n)
        bad = [f"{t}: wrote {w.n[t]}, found {counts.get(t)}" for t in w.n if counts.get(t) != w.n[t]]
        if bad:
            raise GenError("row counts differ after the load: " + "; ".join(bad[:5]))
        res = {
            "layout": args.layout, "engine": cli.flavor, "database": conn["database"],
            "rows": {t.name: counts[t.name] for t in schema.tables},
            "databases": counts.get("DBS", 0), "tables": counts.get("TBLS", 0),
            "partitions": counts.get("PARTITIONS", 0), "views": g.nviews, "functions": counts.get("FUNCS", 0),
            "schema": schema.counts(conn["engine"]),
            "seconds": {"schema": round(t_schema, 2), "generate": round(t_gen, 2), "load": round(t_load, 2),
                        "constraints": round(t_cons, 2), "total": round(time.time() - t_start, 2)},
        }
        print(json.dumps(res, ensure_ascii=False))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_hot_tables(schema):
    """The partition hot path writes these tables' columns in this order."""
    v = schema.v
    want = {
        "PARTITIONS": ["PART_ID", "CREATE_TIME", "LAST_ACCESS_TIME", "PART_NAME", "SD_ID", "TBL_ID"]
        + (["WRITE_ID"] if v >= 40 else []),
        "SDS": ["SD_ID", "CD_ID", "INPUT_FORMAT", "IS_COMPRESSED", "IS_STOREDASSUBDIRECTORIES", "LOCATION",
                "NUM_BUCKETS", "OUTPUT_FORMAT", "SERDE_ID"],
        "SERDES": ["SERDE_ID", "NAME", "SLIB"] + (["DESCRIPTION", "SERIALIZER_CLASS", "DESERIALIZER_CLASS",
                                                   "SERDE_TYPE"] if v >= 31 else []),
        "SERDE_PARAMS": ["SERDE_ID", "PARAM_KEY", "PARAM_VALUE"],
        "PARTITION_KEY_VALS": ["PART_ID", "PART_KEY_VAL", "INTEGER_IDX"],
        "PARTITION_PARAMS": ["PART_ID", "PARAM_KEY", "PARAM_VALUE"],
    }
    for t, cols in want.items():
        assert schema.by_name[t].colnames() == cols, (t, schema.by_name[t].colnames())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
