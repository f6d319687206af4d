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
