"""``sluice docs put|get|delete``, ``sluice search`` and ``sluice ask``: the warehouse and
answers from the command line, through the API (the CLI never opens Qdrant itself)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sluice.client import SluiceClient
    from sluice.client.calls import RetrievalOptions

app = typer.Typer(help="Documents in the warehouse: post, show, delete.", no_args_is_help=True)
console = Console()


@app.command()
def put(
    paths: Annotated[list[Path], typer.Argument(
        exists=True, dir_okay=False, help="Files: PDF, DOCX, text, HTML, .eml.")],
    source: Annotated[str, typer.Option(help="Where the documents come from.")] = "cli",
    doc_id: Annotated[str | None, typer.Option(
        help="Default: the file name. Only with one file.")] = None,
) -> None:
    """Post files; embedding is queued for each whose content is new or changed.

    An .eml goes as an email; any other file is uploaded as it is and the API reads its type
    from its bytes (PDF, DOCX, UTF-8 text). Several files show a progress bar and a line per
    file; the command fails if any file was refused.
    """
    from cli.client import api_client, as_json, reported
    from cli.main import _settings_or_exit

    if doc_id is not None and len(paths) > 1:
        raise typer.BadParameter("--doc-id names one document; give one file with it")
    with api_client(_settings_or_exit()) as client:
        if len(paths) == 1:
            with reported():
                console.print_json(data=as_json(_put_one(client, paths[0], source, doc_id)))
            return
        refused = _put_many(client, paths, source)
    if refused:
        raise typer.Exit(1)


def _put_one(client: Any, path: Path, source: str, doc_id: str | None) -> Any:
    if path.suffix.lower() == ".eml":
        return client.put_document(source, path.read_text(errors="replace"),
                                   doc_id=doc_id or path.name, content_type="message/rfc822")
    return client.upload_document(source, path.name, path.read_bytes(),
                                  doc_id=doc_id or path.name)


def _put_many(client: Any, paths: list[Path], source: str) -> int:
    """Upload each file under a progress bar (by bytes); returns how many were refused."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from cli.client import _problem_line
    from sluice.client import SluiceError

    refused = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  console=console) as progress:
        task = progress.add_task("uploading", total=sum(p.stat().st_size for p in paths))
        for path in paths:
            progress.update(task, description=path.name)
            try:
                written = _put_one(client, path, source, None)
            except SluiceError as exc:
                refused += 1
                progress.console.print(f"[red]refused[/red] {path}: {_problem_line(exc)}",
                                       markup=True, highlight=False)
            else:
                state = "stored" if written.changed else "unchanged"
                progress.console.print(f"{state} {path} -> {written.document.id}")
            progress.advance(task, path.stat().st_size)
    console.print(f"{len(paths) - refused} of {len(paths)} files stored"
                  + (f", {refused} refused" if refused else ""))
    return refused


@app.command()
def get(document_id: Annotated[str, typer.Argument(help="The warehouse id.")]) -> None:
    """Show a document with its chunk count."""
    from cli.client import api_client, as_json, reported
    from cli.main import _settings_or_exit

    with api_client(_settings_or_exit()) as client, reported():
        console.print_json(data=as_json(client.get_document(document_id)))


@app.command()
def delete(document_id: Annotated[str, typer.Argument(help="The warehouse id.")]) -> None:
    """Delete a document; its vectors go with the queued delete job."""
    from cli.client import api_client, as_json, reported
    from cli.main import _settings_or_exit

    with api_client(_settings_or_exit()) as client, reported():
        console.print_json(data=as_json(client.delete_document(document_id)))


ModeOption = Annotated[str | None, typer.Option(
    help="dense, sparse (BM25) or hybrid (both, RRF-fused); default SLUICE_RETRIEVAL_MODE.")]
RerankOption = Annotated[bool | None, typer.Option(
    "--rerank/--no-rerank", help="Rerank with the cross-encoder (default: when configured).")]
ExpandOption = Annotated[int, typer.Option(
    min=0, max=5, help="LLM reformulations searched beside the query, results fused.")]
SelfQueryOption = Annotated[bool, typer.Option(
    "--self-query", help="Filter by the source, document type and dates the query names.")]


def retrieval_options(mode: str | None, rerank: bool | None, expand: int,
                      self_query: bool) -> RetrievalOptions:
    if mode is not None and mode not in ("dense", "sparse", "hybrid"):
        raise typer.BadParameter(f"--mode: {mode!r} is not dense, sparse or hybrid")
    options: RetrievalOptions = {}
    if mode is not None:
        options["mode"] = mode
    if rerank is not None:
        options["rerank"] = rerank
    if expand:
        options["expand"] = expand
    if self_query:
        options["self_query"] = True
    return options


@contextlib.contextmanager
def _retrieving(
    mode: str | None, rerank: bool | None, expand: int, self_query: bool
) -> Iterator[tuple[SluiceClient, RetrievalOptions]]:
    """The API client and the retrieval options, with a failed call reported and exited."""
    from cli.client import api_client, reported
    from cli.main import _settings_or_exit

    options = retrieval_options(mode, rerank, expand, self_query)
    with api_client(_settings_or_exit()) as client, reported():
        yield client, options


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option(help="Chunks to return.")] = 5,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    mode: ModeOption = None,
    rerank: RerankOption = None,
    expand: ExpandOption = 0,
    self_query: SelfQueryOption = False,
) -> None:
    """The chunks nearest a query, best first."""
    with _retrieving(mode, rerank, expand, self_query) as (client, options):
        hits = client.search(query, k=k, source=source or None, **options).hits
    for hit in hits:
        text = " ".join(hit.text.split())
        console.print(f"[bold]{hit.score:.3f}[/bold] {hit.source}:{hit.doc_id}"
                      f"#{hit.chunk_index}  {text[:160]}")


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int | None, typer.Option(help="Chunks to retrieve.")] = None,
    source: Annotated[str | None, typer.Option(help="Only retrieve from this source.")] = None,
    mode: ModeOption = None,
    rerank: RerankOption = None,
    expand: ExpandOption = 0,
    self_query: SelfQueryOption = False,
) -> None:
    """Answer from the documents, printing tokens as the model writes them."""
    sources: list[dict[str, object]] = []
    with _retrieving(mode, rerank, expand, self_query) as (client, options):
        for event in client.ask_stream(question, k=k or None, source=source or None,
                                       **options):
            if event.event == "sources":
                sources = event.data["sources"]
            elif event.event == "token":
                typer.echo(event.text, nl=False)
            elif event.event == "reset":
                typer.echo("\n[the model is retrying; answer restarts]")
            elif event.event == "done":
                typer.echo("")
                for item in sources:
                    typer.echo(f"[{item['n']}] {item['source']}:{item['doc_id']}")
                data = event.data
                typer.echo(f"({data.get('completion_tokens')} tokens, "
                           f"{data.get('total_ms', 0) / 1000:.1f} s, "
                           f"trace {data.get('trace_id')})", err=True)
