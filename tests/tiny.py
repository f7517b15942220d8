"""A tiny randomly initialised BERT with a real (small) SentencePiece-style tokenizer, built in code in seconds."""

from __future__ import annotations

from pathlib import Path

SENTENCES = [
    "The cat sat on the mat.", "A man is playing a guitar.", "Two women are embracing while holding packages.",
    "Der Hund schläft im Garten.", "Le chat dort sur le canapé.", "El perro corre en el parque.",
    "Собака спит в саду.", "القطة تنام على الأريكة.", "कुत्ता बगीचे में सो रहा है।", "狗在花园里睡觉。",
    "猫はソファで寝ています。", "고양이가 소파에서 자고 있습니다.", "แมวนอนอยู่บนโซฟา", "Ο σκύλος κοιμάται στον κήπο.",
    "What was the cause? What happened as a result? because so and but not",
]


def build_tiny_backbone(path: Path, data_dir: Path | None = None, hidden: int = 32, layers: int = 2) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    texts = list(SENTENCES)
    if data_dir is not None:
        for rel in ("xnli/dev-en.tsv", "xnli/dev-de.tsv"):
            p = data_dir / rel
            if p.is_file():
                texts += p.read_text(encoding="utf-8").splitlines()[:300]
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=1200, special_tokens=specials, unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                   model_max_length=256)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=260,
                     pad_token_id=1, type_vocab_size=2)
    model = BertModel(cfg, add_pooling_layer=False)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
