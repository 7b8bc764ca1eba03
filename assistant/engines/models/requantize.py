"""Rewrite a GGUF model's Q4_1 tensors as Q8_0.

SmolLM2's registry mirror carries it in Q4_1, which llama.cpp has no fast CPU kernels for: it reads a prompt at
nearly the cost of generating, one token at a time. In Q8_0 (measured here, one thread, a 14-token question) the
prompt takes 84 ms instead of 128 and generation runs at 79 tokens/s instead of 61, with the same greedy replies.
Q4_1 → Q8_0 loses next to nothing (each Q4_1 value fits Q8_0's finer grid closely); the file grows 98 → 145 MB.
The arithmetic is gguf's, bit-exact with ggml's own, so the result's sha256 is fixed and checked like any download.
"""

from __future__ import annotations

from pathlib import Path


def requantize_to_q8_0(source: Path, dest: Path) -> None:
    """Blocking (a few seconds for SmolLM2-135M): `source` with every Q4_1 tensor as Q8_0, written to `dest`."""
    import gguf  # used only when a model is pulled

    reader = gguf.GGUFReader(source)
    architecture = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(dest, architecture)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer puts those itself
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = gguf.LlamaFileType.MOSTLY_Q8_0
        value_type = field.types[0]
        writer.add_key_value(field.name, value, value_type,
                             sub_type=field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None)
    tensors = []
    for tensor in reader.tensors:
        data, quantization = tensor.data, tensor.tensor_type
        if quantization == gguf.GGMLQuantizationType.Q4_1:
            quantization = gguf.GGMLQuantizationType.Q8_0
            data = gguf.quants.quantize(gguf.quants.dequantize(data, gguf.GGMLQuantizationType.Q4_1), quantization)
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, quantization)
        tensors.append(data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for data in tensors:
        writer.write_tensor_data(data)
    writer.close()
