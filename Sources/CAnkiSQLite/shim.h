// sqlite3_db_config() is variadic, so Swift cannot call it: these wrappers set the options
// Sources/AnkiReader/ForeignDatabase.swift needs. The connection is passed as a plain pointer and
// sqlite3.h is not included, so this module declares nothing that GRDBSQLite also declares.
#ifndef CANKI_SQLITE_SHIM_H
#define CANKI_SQLITE_SHIM_H

struct sqlite3;
extern int sqlite3_db_config(struct sqlite3 *, int op, ...);

// The option numbers of sqlite3.h (stable parts of SQLite's interface).
#define ANKI_SQLITE_DBCONFIG_ENABLE_TRIGGER 1003
#define ANKI_SQLITE_DBCONFIG_DEFENSIVE 1010
#define ANKI_SQLITE_DBCONFIG_ENABLE_VIEW 1015
#define ANKI_SQLITE_DBCONFIG_TRUSTED_SCHEMA 1017

/// Sets an on/off option (`value` 0 or 1; -1 leaves it) and returns its value afterwards, or -1
/// when SQLite refused the option.
static inline int anki_sqlite_db_flag(void *db, int option, int value) {
    int now = -1;
    if (sqlite3_db_config((struct sqlite3 *)db, option, value, &now) != 0) return -1;
    return now;
}

static inline int anki_sqlite_defensive(void *db, int value) {
    return anki_sqlite_db_flag(db, ANKI_SQLITE_DBCONFIG_DEFENSIVE, value);
}
static inline int anki_sqlite_trusted_schema(void *db, int value) {
    return anki_sqlite_db_flag(db, ANKI_SQLITE_DBCONFIG_TRUSTED_SCHEMA, value);
}
static inline int anki_sqlite_enable_view(void *db, int value) {
    return anki_sqlite_db_flag(db, ANKI_SQLITE_DBCONFIG_ENABLE_VIEW, value);
}
static inline int anki_sqlite_enable_trigger(void *db, int value) {
    return anki_sqlite_db_flag(db, ANKI_SQLITE_DBCONFIG_ENABLE_TRIGGER, value);
}

#endif
