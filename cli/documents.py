"""``sluice docs put|get|delete``, ``sluice search`` and ``sluice ask``: the warehouse and
answers from the command line, through the API (the CLI never opens Qdrant itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Documents in the warehouse: post, show, delete.", no_args_is_help=True)
console = Console()
CONTENT_TYPES = {".html": "text/html", ".htm": "text/html", ".eml": "message/rfc822"}
STREAM_TIMEOUT_SECONDS = 300.0


@app.command()
def put(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Text, HTML, .eml.")],
    source: Annotated[str, typer.Option(help="Where the document comes from.")] = "cli",
    doc_id: Annotated[str | None, typer.Option(help="Default: the file name.")] = None,
) -> None:
    """Post a file; embedding is queued when its content is new or changed."""
    from cli.client import api_client, checked
    from cli.main import _settings_or_exit

    body = {
        "source": source,
        "doc_id": doc_id or path.name,
        "content": path.read_text(errors="replace"),
        "content_type": CONTENT_TYPES.get(path.suffix.lower(), "text/plain"),
    }
    with api_client(_settings_or_exit()) as client:
        console.print_json(data=checked(client.post("/v1/documents", json=body)))


@app.command()
def get(document_id: Annotated[str, typer.Argument(help="The warehouse id.")]) -> None:
    """Show a document with its chunk count."""
    from cli.client import api_client, checked
    from cli.main import _settings_or_exit

    with api_client(_settings_or_exit()) as client:
        console.print_json(data=checked(client.get(f"/v1/documents/{document_id}")))


@app.command()
def delete(document_id: Annotated[str, typer.Argument(help="The warehouse id.")]) -> None:
    """Delete a document; its vectors go with the queued delete job."""
    from cli.client import api_client, checked
    from cli.main import _settings_or_exit

    with api_client(_settings_or_exit()) as client:
        console.print_json(data=checked(client.delete(f"/v1/documents/{document_id}")))


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option(help="Chunks to return.")] = 5,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
) -> None:
    """The chunks nearest a query, best first."""
    from cli.client import api_client, checked
    from cli.main import _settings_or_exit

    params: dict[str, str | int] = {"q": query, "k": k}
    if source:
        params["source"] = source
    with api_client(_settings_or_exit()) as client:
        hits = checked(client.get("/v1/search", params=params))["hits"]
    for hit in hits:
        text = " ".join(hit["text"].split())
        console.print(f"[bold]{hit['score']:.3f}[/bold] {hit['source']}:{hit['doc_id']}"
                      f"#{hit['chunk_index']}  {text[:160]}")


def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int | None, typer.Option(help="Chunks to retrieve.")] = None,
    source: Annotated[str | None, typer.Option(help="Only retrieve from this source.")] = None,
) -> None:
    """Answer from the documents, printing tokens as the model writes them."""
    from cli.client import api_client
    from cli.main import _settings_or_exit

    body: dict[str, str | int] = {"question": question}
    if k:
        body["k"] = k
    if source:
        body["source"] = source
    sources: list[dict[str, object]] = []
    event = ""
    with api_client(_settings_or_exit()) as client, client.stream(
        "POST", "/v1/ask/stream", json=body, timeout=STREAM_TIMEOUT_SECONDS
    ) as response:
        if response.is_error:
            response.read()
            typer.echo(f"error: HTTP {response.status_code}: {response.text}", err=True)
            raise typer.Exit(1)
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data = json.loads(line.partition(":")[2])
                if event == "sources":
                    sources = data["sources"]
                elif event == "token":
                    typer.echo(data["text"], nl=False)
                elif event == "reset":
                    typer.echo("\n[the model is retrying; answer restarts]")
                elif event == "error":
                    typer.echo(f"\nerror: {data.get('error')}", err=True)
                    raise typer.Exit(1)
                elif event == "done":
                    typer.echo("")
                    for item in sources:
                        typer.echo(f"[{item['n']}] {item['source']}:{item['doc_id']}")
                    tokens = data.get("completion_tokens")
                    typer.echo(f"({tokens} tokens, {data.get('total_ms', 0) / 1000:.1f} s, "
                               f"trace {data.get('trace_id')})", err=True)
                    return
