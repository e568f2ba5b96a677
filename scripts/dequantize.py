#!/usr/bin/env python3
"""Write an F32 copy of a GGUF model, for llama.cpp's trainer (which updates full weights in F32).

  dequantize.py IN.gguf OUT.gguf

Every metadata key is copied as it is, except `general.file_type`, which becomes 0 (all F32);
every tensor is dequantized with the `gguf` package (`gguf.quants.dequantize`). Run by
scripts/tune.sh, which installs `gguf` into the model venv and caches the result.
"""

import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    src, dst = sys.argv[1], sys.argv[2]

    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize

    reader = GGUFReader(src)
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        print(f"dequantize: {src} has no general.architecture", file=sys.stderr)
        return 2
    arch = arch_field.contents()
    writer = GGUFWriter(dst, arch)
    for key, field in reader.fields.items():
        # The header counts and the architecture are written by GGUFWriter itself.
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key == "general.file_type":
            writer.add_file_type(0)  # LLAMA_FTYPE_ALL_F32
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub_type)
    for t in reader.tensors:
        data = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        # GGUF lists dimensions innermost first; numpy wants them outermost first.
        shape = tuple(int(d) for d in reversed(t.shape))
        writer.add_tensor(t.name, data.reshape(shape), raw_dtype=GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
