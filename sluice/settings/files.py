"""Settings of files (uploads, email attachments, crawled PDFs) and of bounding their parsing."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FileSettings(BaseModel):
    files_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024,
        description="Largest file (upload, email attachment, crawled PDF) Sluice reads; an "
        "upload above it gets 413.",
    )

    files_max_pages: int = Field(
        2000, ge=1, description="A PDF with more pages is refused (dead/invalid_input).",
    )

    files_max_expansion_ratio: float = Field(
        100.0, ge=1,
        description="Decompression-bomb cap: a file may decompress to at most this many times "
        "its own size (and never above 512 MiB); above it the file is refused.",
    )

    files_parse_seconds: float = Field(
        120.0, gt=0,
        description="Wall time one file's parsing may take (in a child process, killed after).",
    )

    files_parse_memory_mb: int = Field(
        1024, ge=64,
        description="Address-space limit of the child process that parses one file.",
    )
