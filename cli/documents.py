"""``sluice docs put|get|delete``, ``sluice search`` and ``sluice ask``: the warehouse and
answers from the command line, through the API (the CLI never opens Qdrant itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Documents in the warehouse: post, show, delete.", no_args_is_help=True)
console = Console()
CONTENT_TYPES = {".html": "text/html", ".htm": "text/html", ".eml": "message/rfc822"}


@app.command()
def put(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Text, HTML, .eml.")],
    source: Annotated[str, typer.Option(help="Where the document comes from.")] = "cli",
    doc_id: Annotated[str | None, typer.Option(help="Default: the file name.")] = None,
) -> None:
    """Post a file; embedding is queued when its content is new or changed."""
    from cli.client import api_client, as_json, reported
    from cli.main import _settings_or_exit

    with api_client(_settings_or_exit()) as client, reported():
        written = client.put_document(
            source, path.read_text(errors="replace"), doc_id=doc_id or path.name,
            content_type=CONTENT_TYPES.get(path.suffix.lower(), "text/plain"),
        )
        console.print_json(data=as_json(written))


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


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option(help="Chunks to return.")] = 5,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
) -> None:
    """The chunks nearest a query, best first."""
    from cli.client import api_client, reported
    from cli.main import _settings_or_exit

    with api_client(_settings_or_exit()) as client, reported():
        hits = client.search(query, k=k, source=source or None).hits
    for hit in hits:
        text = " ".join(hit.text.split())
        console.print(f"[bold]{hit.score:.3f}[/bold] {hit.source}:{hit.doc_id}"
                      f"#{hit.chunk_index}  {text[:160]}")


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int | None, typer.Option(help="Chunks to retrieve.")] = None,
    source: Annotated[str | None, typer.Option(help="Only retrieve from this source.")] = None,
) -> None:
    """Answer from the documents, printing tokens as the model writes them."""
    from cli.client import api_client, reported
    from cli.main import _settings_or_exit

    sources: list[dict[str, object]] = []
    with api_client(_settings_or_exit()) as client, reported():
        for event in client.ask_stream(question, k=k or None, source=source or None):
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
