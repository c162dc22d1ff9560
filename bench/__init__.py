"""
Benchmarks on PostgreSQL: planning against the SQL floor, the ledger's bytes per row, dispatch throughput
(and a 100,000-email "starting soon" blast), memory, web reads, import.

Run with `python -m bench [--size small|medium|large]` (or `make bench`). The benchmark creates its own
database, fills it, measures, prints a table and writes bench/results/latest.md, then drops the database.
It is not part of the test suite.
"""

# The measurements, in the order they run (each can be chosen with --only).
PHASES = ("planning", "ledger", "year", "memory", "web", "dispatch", "blast", "import")
