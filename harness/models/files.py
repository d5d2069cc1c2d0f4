"""Which files make up a model, an adapter and a tokenizer, by name pattern.

The HF backend fingerprints these files and the registry copies an adapter's into its store. Both need the
same list, and the registry must not import the backend (and with it transformers) to get it.
"""

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "config.json", "generation_config.json")
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
)  # fmt: skip
ADAPTER_PATTERNS = ("adapter_model.safetensors", "adapter_model.bin", "adapter_config.json")
