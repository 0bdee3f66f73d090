"""The default GGUF as an f32 PyTorch model that transformers lets TRL train, shared by the DPO reference and bench."""
import os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def load(path):
    """The tokenizer and an f32 model with the GGUF's dequantised weights. transformers marks a model read from a GGUF
    as quantized and refuses to train it, so the weights move into a plain model built from the same config."""
    directory, name = os.path.split(os.path.abspath(path))
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    gguf = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    config = gguf.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf.state_dict())
    return tok, model
