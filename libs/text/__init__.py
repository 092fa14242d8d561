"""Text from documents: HTML to text, RFC 822 emails to text, quoted replies and signatures."""
