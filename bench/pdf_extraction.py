"""PDF text extraction: pages per second on a generated 100-page PDF, and peak memory.

Three ways over the same file, repeated: (a) pypdf's ``extract_text`` page by page in this
process, with no limits, the baseline; (b) :func:`libs.files.reading.read_pdf` in this
process (the %%EOF, page, expansion and per-page stream checks); (c)
:func:`libs.files.bounded.read_file`, how a worker reads it: a child process with the
memory and time limits. Prints pages/s and each rate's ratio to the baseline, then the
peak RSS of this process (the worker's side: it only relays bytes and JSON) and of the
largest child.

    python -m bench.pdf_extraction [--pages 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import resource
import time
from collections.abc import Callable

from libs.documents.model import ContentType
from libs.files.bounded import read_file
from libs.files.reading import ReadLimits, read_pdf
from tests.support.files import pdf_with_text

LINE = "Section {page}.{line}: the kettle descales with citric acid; warranty claims need "
LINE += "the order number and the date of purchase."


def generated_pdf(pages: int) -> bytes:
    return pdf_with_text([
        "\n".join(LINE.format(page=page, line=line) for line in range(40))
        for page in range(1, pages + 1)
    ])


def bare_pypdf(data: bytes) -> int:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return sum(1 for page in reader.pages if page.extract_text() is not None)


def rate(label: str, work: Callable[[], int], rounds: int) -> float:
    start = time.perf_counter()
    pages = sum(work() for _ in range(rounds))
    per_second = pages / (time.perf_counter() - start)
    print(f"{label:44} {per_second:8.1f} pages/s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = generated_pdf(args.pages)
    limits = ReadLimits()
    print(f"{args.pages}-page PDF, {len(data) / 1024:.0f} KiB, {args.rounds} rounds each")
    # The child first: this process's peak after it is what a worker pays.
    bounded = rate("read_file in a bounded child (as a worker does)",
                   lambda: len(read_file(data, ContentType.PDF, limits).pages), args.rounds)
    worker_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    baseline = rate("pypdf extract_text, in process (baseline)",
                    lambda: bare_pypdf(data), args.rounds)
    checked = rate("read_pdf with the checks, in process",
                   lambda: len(read_pdf(data, limits).pages), args.rounds)
    in_process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"ratio checked / baseline: {checked / baseline:.2f}")
    print(f"ratio bounded child / baseline: {bounded / baseline:.2f}")
    print(f"peak RSS, the caller (worker side) while children parse: {worker_peak / 1024:.0f} MiB")
    print(f"peak RSS, the largest parsing child: {child_peak / 1024:.0f} MiB")
    print(f"peak RSS, this process after parsing in process: {in_process_peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
