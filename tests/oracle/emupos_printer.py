"""A third-party ESC/POS printer for the end-to-end tests: emupos's simulated Epson TM-T20III.

emupos (PyPI, Apache-2.0) is an ESC/POS interpreter written from Epson's command reference,
with none of Madoguchi's code: its tokenizer, status answers (DLE EOT, GS r, ASB), fault
states and renderer decide what a real printer would print. This script only carries bytes
between TCP connections and emupos's `Printer` (its pure device logic) and reports on stdout:

    listening 127.0.0.1:PORT            once, when ready
    receipt N BOUNDARY PNG-PATH         each completed receipt (BOUNDARY: cut, connection-closed)
    ok                                  after each control command

Control commands, one per line on stdin: `fault NAME on|off` (NAME: paper-near-end,
paper-out, cover-open, offline). End of stdin stops the printer.
"""

import importlib.resources
import socket
import sys
import threading
import time
from pathlib import Path

from emupos.config import _parse_profile
from emupos.printer.printer import Printer, PrinterFault

PROFILE = "epson-tm-t20iii"


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = importlib.resources.files("emupos").joinpath("profiles", "printers")
    profile = _parse_profile(folder.joinpath(f"{PROFILE}.yaml").read_text("utf-8"), PROFILE)
    printer = Printer(
        "oracle",
        profile,
        sensor_open_level=profile.drawer_sensor_open_level,
        job_idle_timeout_ms=60_000,  # a job ends at its cut or when the host hangs up
    )
    lock = threading.Lock()
    sockets: dict[str, socket.socket] = {}
    count = [0]

    def emit(output) -> None:
        """Writes emupos's answers to their connections and saves its receipts (lock held)."""
        for write in output.writes:
            conn = sockets.get(write.connection)
            if conn is not None:
                try:
                    conn.sendall(write.data)
                except OSError:
                    pass
        for receipt in output.receipts:
            count[0] += 1
            png = out_dir / f"receipt-{count[0]:03}.png"
            png.write_bytes(receipt.png)
            png.with_suffix(".txt").write_text(receipt.text, encoding="utf-8")
            print(f"receipt {count[0]} {receipt.boundary} {png}", flush=True)

    def serve(conn: socket.socket, name: str) -> None:
        with lock:
            sockets[name] = conn
            emit(printer.open_connection(name, time.monotonic()))
        try:
            while data := conn.recv(65536):
                with lock:
                    emit(printer.receive(name, data, time.monotonic()))
        except OSError:
            pass
        finally:
            with lock:
                del sockets[name]
                emit(printer.close_connection(name, time.monotonic()))
            conn.close()

    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()[:2]

    def accept() -> None:
        while True:
            conn, peer = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            name = f"tcp:{host}:{port}<-{peer[0]}:{peer[1]}"
            threading.Thread(target=serve, args=(conn, name), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print(f"listening {host}:{port}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 3 and words[0] == "fault":
            with lock:
                emit(printer.set_fault(PrinterFault(words[1]), words[2] == "on", time.monotonic()))
            print("ok", flush=True)
        elif words:
            print(f"error unknown command {line.strip()!r}", flush=True)


if __name__ == "__main__":
    main()
