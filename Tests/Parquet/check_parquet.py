"""Reads Parquet files written by AnkiParquet with three independent readers (pyarrow, DuckDB, polars)
and compares schema, values and column statistics with what the Swift test meant to write.

Usage: check_parquet.py EXPECTED.json [EXPECTED.json ...]
Each JSON file: {"file": path, "columns": [{"name", "type", "optional"}], "rows": [[cell, ...], ...]}
with doubles given as their IEEE 754 bit patterns (unsigned 64-bit integers), so NaN, infinities and
-0.0 survive JSON. Prints one line per problem and exits 1 if there is any.
"""
import json
import math
import struct
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

PA_TYPES = {"int32": pa.int32(), "int64": pa.int64(), "double": pa.float64(), "boolean": pa.bool_(),
            "string": pa.string()}
DUCK_TYPES = {"int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR"}
POLARS_TYPES = {"int32": pl.Int32, "int64": pl.Int64, "double": pl.Float64, "boolean": pl.Boolean, "string": pl.String}
MAX_STAT_BYTES = 4096

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def decode(cell, kind):
    if cell is None:
        return None
    if kind == "double":
        return struct.unpack("<d", struct.pack("<Q", cell))[0]
    return cell


def same(a, b, kind):
    if a is None or b is None:
        return a is None and b is None
    if kind == "double":
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    if kind == "boolean":
        return bool(a) == bool(b) and isinstance(a, (bool, int))
    return a == b and type(a) is type(b)


def compare_rows(where, got, want, columns):
    if len(got) != len(want):
        problem(where, f"{len(got)} rows, expected {len(want)}")
        return
    for r, (g, w) in enumerate(zip(got, want)):
        for c, column in enumerate(columns):
            if not same(g[c], w[c], column["type"]):
                problem(where, f"row {r} column {column['name']}: {g[c]!r} != {w[c]!r}")
                return


def expected_stats(values, kind):
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    if kind == "double":
        present = [v for v in present if not math.isnan(v)]
    if kind == "string":
        encoded = [v.encode("utf-8") for v in present]
        if not encoded:
            return nulls, None, None
        lo, hi = min(encoded), max(encoded)
        if len(lo) > MAX_STAT_BYTES or len(hi) > MAX_STAT_BYTES:
            return nulls, None, None
        return nulls, lo.decode("utf-8"), hi.decode("utf-8")
    if not present:
        return nulls, None, None
    return nulls, min(present), max(present)


def check(spec):
    path = spec["file"]
    columns = spec["columns"]
    names = [c["name"] for c in columns]
    rows = [[decode(cell, c["type"]) for cell, c in zip(row, columns)] for row in spec["rows"]]

    # pyarrow: schema, nullability, values, statistics per row group.
    where = f"{path} (pyarrow)"
    schema = pq.read_schema(path)
    if schema.names != names:
        problem(where, f"columns {schema.names}, expected {names}")
        return
    for field, column in zip(schema, columns):
        if field.type != PA_TYPES[column["type"]]:
            problem(where, f"column {column['name']} is {field.type}, expected {column['type']}")
        if field.nullable != column["optional"]:
            problem(where, f"column {column['name']} nullable={field.nullable}")
    table = pq.read_table(path)
    got = list(zip(*[table.column(n).to_pylist() for n in names])) if table.num_rows else []
    compare_rows(where, got, rows, columns)
    meta = pq.ParquetFile(path).metadata
    if meta.num_rows != len(rows):
        problem(where, f"metadata says {meta.num_rows} rows, expected {len(rows)}")
    start = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        part = rows[start:start + group.num_rows]
        start += group.num_rows
        for c, column in enumerate(columns):
            stats = group.column(c).statistics
            nulls, lo, hi = expected_stats([row[c] for row in part], column["type"])
            here = f"{where} row group {g} column {column['name']}"
            if stats is None:
                problem(here, "no statistics")
                continue
            if stats.null_count != nulls:
                problem(here, f"null_count {stats.null_count}, expected {nulls}")
            if lo is None:
                if stats.has_min_max:
                    problem(here, "has min/max, expected none")
                continue
            if not stats.has_min_max:
                problem(here, "no min/max")
            elif not (same(stats.min, lo, column["type"]) or (column["type"] == "double" and stats.min == lo)) \
                    or not (same(stats.max, hi, column["type"]) or (column["type"] == "double" and stats.max == hi)):
                problem(here, f"min/max {stats.min!r}/{stats.max!r}, expected {lo!r}/{hi!r}")
    if start != len(rows):
        problem(where, f"row groups hold {start} rows, expected {len(rows)}")

    # DuckDB: its own reader, types, values and the statistics it reads from the footer.
    where = f"{path} (duckdb)"
    con = duckdb.connect()
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
    if [(d[0], d[1]) for d in described] != [(c["name"], DUCK_TYPES[c["type"]]) for c in columns]:
        problem(where, f"schema {[(d[0], d[1]) for d in described]}")
    got = con.execute("SELECT * FROM read_parquet(?)", [path]).fetchall()
    compare_rows(where, [list(r) for r in got], rows, columns)
    stats = con.execute("SELECT row_group_id, column_id, stats_null_count, stats_min_value, stats_max_value "
                        "FROM parquet_metadata(?) ORDER BY row_group_id, column_id", [path]).fetchall()
    start = 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        part = rows[start:start + n]
        start += n
        for c, column in enumerate(columns):
            kind = column["type"]
            matching = [s for s in stats if s[0] == g and s[1] == c]
            if len(matching) != 1:
                problem(where, f"row group {g} column {column['name']}: {len(matching)} metadata rows")
                continue
            _, _, null_count, lo_text, hi_text = matching[0]
            nulls, lo, hi = expected_stats([row[c] for row in part], kind)
            if null_count != nulls:
                problem(where, f"row group {g} column {column['name']}: null_count {null_count}, expected {nulls}")
            if kind in ("int32", "int64", "string") and lo is not None:
                if (lo_text, hi_text) != (str(lo), str(hi)):
                    problem(where, f"row group {g} column {column['name']}: min/max {lo_text!r}/{hi_text!r}")
    con.close()

    # polars: a third reader (Rust).
    where = f"{path} (polars)"
    frame = pl.read_parquet(path)
    if frame.columns != names:
        problem(where, f"columns {frame.columns}")
    for name, column in zip(names, columns):
        if frame.schema[name] != POLARS_TYPES[column["type"]]:
            problem(where, f"column {name} is {frame.schema[name]}")
    compare_rows(where, [list(r) for r in frame.rows()], rows, columns)


for argument in sys.argv[1:]:
    with open(argument, encoding="utf-8") as f:
        spec = json.load(f)
    try:
        check(spec)
    except Exception as error:  # a reader refusing the file is a finding, not a crash of the checker
        problem(spec["file"], f"{type(error).__name__}: {error}")

for line in problems[:50]:
    print(line)
if problems:
    print(f"{len(problems)} problem(s)")
sys.exit(1 if problems else 0)
