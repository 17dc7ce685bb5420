"""`avax-assets sql`: the SQL prompt and one-off queries on the tables the assets write, like clickhouse-client.

ClickHouse renders every answer in its own output formats (full values, exact 256-bit integers): `table`
(PrettyCompact), `csv`, `tsv`, `json` (one object per line, big integers quoted) and `parquet` (binary, to a
pipe or a file). The default database is the project's (`avax`), so `SELECT … FROM blocks` works. The prompt
keeps a history in the project's directory (Up and Down recall it), reads a statement over several lines
until its `;`, cancels the line being typed with Ctrl-C and ends with Ctrl-D. The embedded engine is held
only while a statement runs, so loads and the live consumer go on between them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from avax_assets.core.clickhouse import ClickHouseWarehouse, without_comments

# --format → ClickHouse output format
FORMATS = {"table": "PrettyCompactMonoBlock", "csv": "CSVWithNames", "tsv": "TSVWithNames", "json": "JSONEachRow",
           "parquet": "Parquet"}
OUTPUT_SETTINGS = {
    "output_format_json_quote_64bit_integers": 1,  # a JSON reader would round UInt64 and wider to a double
    "output_format_pretty_max_value_width": 1_000_000,  # a value is shown whole: hashes, calldata
    "output_format_pretty_max_rows": 10_000,
    "output_format_pretty_color": 0,
}
PROMPT, MORE = "avax :) ", "     :-] "
HISTORY_FILE = "sql_history"  # under AVAX_HOME
EXAMPLES = """examples:
  avax-assets sql "SELECT count() FROM blocks"
  avax-assets sql --format csv "SELECT block_number, block_hash FROM blocks ORDER BY 1 LIMIT 5"
  avax-assets sql --format parquet "SELECT * FROM transactions WHERE toDate(block_timestamp) = '2024-06-01'" > d.parquet
  avax-assets sql                      # the prompt: statements end with ';', Ctrl-C cancels one, Ctrl-D quits
"""


def split_statements(text: str) -> tuple[list[str], str]:
    """The statements `text` completes (each ended by a `;` outside quotes and comments), and what is left
    unfinished."""
    done, start, i, quote = [], 0, 0, None
    while i < len(text):
        char = text[i]
        if quote:
            quote = None if char == quote else quote
        elif text.startswith("--", i):
            i = _end_of(text, "\n", i)
            continue
        elif text.startswith("/*", i):
            i = _end_of(text, "*/", i)
            continue
        elif char in "'\"`":
            quote = char
        elif char == ";":
            done.append(text[start:i].strip())
            start = i + 1
        i += 1
    return [s for s in done if without_comments(s)], text[start:].strip()


def _end_of(text: str, closing: str, start: int) -> int:
    end = text.find(closing, start + 2)
    return len(text) if end < 0 else end + len(closing)


def statements(text: str) -> Iterator[str]:
    """Every statement of `text`, the last one with or without its `;`."""
    done, rest = split_statements(text)
    yield from done
    if without_comments(rest):
        yield rest


class Console:
    def __init__(self, warehouse: ClickHouseWarehouse, output_format: str = "table",
                 out: BinaryIO | None = None, err: Callable[[str], None] | None = None) -> None:
        self.warehouse, self.format = warehouse, FORMATS[output_format]
        self.out = out or sys.stdout.buffer
        self.err = err or (lambda text: print(text, file=sys.stderr))

    def answer(self, statement: str) -> int:
        """One statement's answer written out; its error in one line (the engine's own message)."""
        try:
            data = self.warehouse.console_query(statement, self.format, OUTPUT_SETTINGS)
        except Exception as exc:  # noqa: BLE001 - the engine's message is what the person needs
            self.err(f"error: {str(exc).strip().splitlines()[0][:500]}")
            return 1
        self.out.write(data)
        self.out.flush()
        return 0

    def prompt(self, history: Path) -> int:
        """Statements read at the prompt until Ctrl-D (or `exit`). Piped statements stop at the first that
        fails, with status 1 (as clickhouse-client's do); at a terminal the prompt goes on."""
        typed = sys.stdin.isatty()  # piped statements get no banner and no prompts
        readline = _readline(history) if typed else None
        if typed:
            print(f"ClickHouse, database `{self.warehouse.database}` (the tables the assets write). Statements "
                  "end with ';'. Ctrl-C cancels one, Ctrl-D quits.")
        pending: list[str] = []
        while True:
            try:
                line = input((MORE if pending else PROMPT) if typed else "")
            except EOFError:
                if typed:
                    print()
                break
            except KeyboardInterrupt:  # cancels what is being typed, not the prompt
                print()
                pending = []
                continue
            if not pending and line.strip().lower() in ("exit", "quit", "exit;", "quit;"):
                break
            done, rest = split_statements("\n".join([*pending, line]))
            pending = [rest] if rest else []
            for statement in done:
                try:
                    failed = self.answer(statement)
                except KeyboardInterrupt:
                    self.err("cancelled")
                    break
                if failed and not typed:
                    return 1
        if readline:
            readline.write_history_file(str(history))
        if pending and not typed:  # a last statement without its `;`
            return self.answer(pending[0])
        return 0


def _readline(history: Path):
    try:
        import readline
    except ImportError:  # no line editing on this platform: the prompt still works
        return None
    history.parent.mkdir(parents=True, exist_ok=True)
    if history.exists():
        readline.read_history_file(str(history))
    readline.set_history_length(10_000)
    return readline
