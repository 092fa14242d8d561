"""Libraries: what two edges share (text cleaning and documents, the LLM client with its
guard and budgets, sinks, dead-letter actions). They import the kernel and the contracts,
never an edge; see docs/architecture.md."""
