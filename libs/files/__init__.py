"""Files to text: what a PDF, a DOCX or a plain-text file says, page by page.

:mod:`libs.files.sniffing` names a file's type from its bytes; :mod:`libs.files.reading`
turns one into pages of text; :mod:`libs.files.bounded` does that in a child process with a
memory and time limit, which is how every edge calls it, so a hostile file can only ever
cost one child.
"""
