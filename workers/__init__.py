"""Task code for job kinds: extraction, embedding, generation, sinks."""
