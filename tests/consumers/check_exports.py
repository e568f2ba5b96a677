"""Loads every file `loupe export` wrote in a folder with Hugging Face `datasets`, the way
training stacks do, and checks each format by the rules its consumers document:

- sft: OpenAI chat fine-tuning: one `messages` list per row; roles system, user or
  assistant; string content, never empty; at least one assistant turn, and the assistant
  last (the turn that is trained on).
- dpo: TRL's conversational preference format: `prompt`, `chosen`, `rejected`, each a list
  of {role, content} messages (TRL's `is_conversational`); the prompt ends with a user turn,
  chosen and rejected are one assistant turn each and differ.
- openai-dpo: OpenAI preference fine-tuning: `input.messages`, `preferred_output` and
  `non_preferred_output`, each output exactly one assistant message with string content.
- rubric: JSONL and CSV hold the same rows; scores within the rubric's scale; the mean
  is the mean of the scores.
- raw: one row per output with its keys.

And the manifest: every file it lists has that sha256 and that many rows. No file is
empty (datasets cannot load one), and a training export's splits load together, the way
the README shows:

    datasets.load_dataset("json", data_files={"train": "sft.train.jsonl",
                                              "validation": "sft.valid.jsonl"})

Usage: python check_exports.py DIR   (exit 0 when every check passes)
"""

import csv
import hashlib
import json
import os
import sys

import datasets

datasets.disable_progress_bars()
datasets.logging.set_verbosity_error()

ROLES = {"system", "user", "assistant"}
failures = []


def fail(where, what):
    failures.append(f"{where}: {what}")


def load(path, kind="json"):
    """The dataset in `path`; an empty file is a failure (datasets cannot load it)."""
    if os.path.getsize(path) == 0:
        fail(path, "empty file: datasets cannot load it (StopIteration / no data)")
        return None
    return datasets.load_dataset(kind, data_files=path, split="train")


def load_splits(folder, fmt):
    """Loads a training export's splits together, as the README shows; returns rows per split."""
    files = {
        name: os.path.join(folder, f"{fmt}.{split}.jsonl")
        for name, split in [("train", "train"), ("validation", "valid")]
    }
    files = {name: path for name, path in files.items() if os.path.exists(path)}
    if not files:
        fail(folder, f"{fmt}: neither split was written")
        return {}
    try:
        ds = datasets.load_dataset("json", data_files=files)
    except Exception as e:  # noqa: BLE001 - the test reports whatever datasets raised
        fail(folder, f"{fmt}: loading {sorted(files)} together failed: {type(e).__name__}: {e}")
        return {}
    return {name: len(ds[name]) for name in files}


def check_message(where, m, roles=ROLES):
    if not isinstance(m, dict) or set(m) - {"role", "content"} or "role" not in m or "content" not in m:
        fail(where, f"not a {{role, content}} message: {m!r}")
        return
    if m["role"] not in roles:
        fail(where, f"role {m['role']!r} not one of {sorted(roles)}")
    if not isinstance(m["content"], str):
        fail(where, f"content is not a string: {m['content']!r}")
    elif not m["content"].strip():
        fail(where, "empty message")


def check_sft(path):
    ds = load(path)
    if ds is None:
        return 0
    if ds.column_names != ["messages"]:
        fail(path, f"columns {ds.column_names}, expected ['messages']")
    for i, row in enumerate(ds):
        where = f"{path}:{i + 1}"
        msgs = row["messages"]
        if not msgs:
            fail(where, "no messages")
            continue
        for m in msgs:
            check_message(where, m)
        if msgs[-1]["role"] != "assistant":
            fail(where, "the last message is not the assistant's")
        if msgs[0]["role"] == "assistant":
            fail(where, "starts with an assistant turn")
        if any(m["role"] == "system" for m in msgs[1:]):
            fail(where, "a system message after the first turn")
    return ds.num_rows


def is_conversational(example):
    # TRL's data_utils.is_conversational: the first supported key holds a list of dicts
    # with "role" and "content".
    for key in ["prompt", "chosen", "rejected", "completion", "messages"]:
        if key in example:
            v = example[key]
            return isinstance(v, list) and len(v) > 0 and isinstance(v[0], dict) and "role" in v[0] and "content" in v[0]
    return False


def check_dpo(path):
    ds = load(path)
    if ds is None:
        return 0
    if sorted(ds.column_names) != ["chosen", "prompt", "rejected"]:
        fail(path, f"columns {ds.column_names}, expected prompt, chosen, rejected")
    for i, row in enumerate(ds):
        where = f"{path}:{i + 1}"
        if not is_conversational(row):
            fail(where, "not conversational in TRL's sense")
        for m in row["prompt"]:
            check_message(where, m)
        if not row["prompt"] or row["prompt"][-1]["role"] != "user":
            fail(where, "the prompt does not end with a user turn")
        for key in ["chosen", "rejected"]:
            if len(row[key]) != 1:
                fail(where, f"{key} has {len(row[key])} messages, expected 1")
            for m in row[key]:
                check_message(where, m, {"assistant"})
        if row["chosen"] == row["rejected"]:
            fail(where, "chosen and rejected are the same")
    return ds.num_rows


def check_openai_dpo(path):
    ds = load(path)
    if ds is None:
        return 0
    if sorted(ds.column_names) != ["input", "non_preferred_output", "preferred_output"]:
        fail(path, f"columns {ds.column_names}")
    for i, row in enumerate(ds):
        where = f"{path}:{i + 1}"
        msgs = row["input"]["messages"]
        if not msgs:
            fail(where, "input.messages is empty")
        for m in msgs:
            check_message(where, m)
        if msgs and msgs[-1]["role"] != "user":
            fail(where, "input.messages does not end with a user turn")
        for key in ["preferred_output", "non_preferred_output"]:
            out = row[key]
            if len(out) != 1:
                fail(where, f"{key} has {len(out)} messages, expected exactly 1")
            for m in out:
                check_message(where, m, {"assistant"})
        if row["preferred_output"] == row["non_preferred_output"]:
            fail(where, "preferred and non-preferred outputs are the same")
    return ds.num_rows


def check_rubric(jsonl, csv_path, scale):
    ds = load(jsonl)
    dc = load(csv_path, "csv")
    n = 0 if ds is None else ds.num_rows
    m = 0 if dc is None else dc.num_rows
    if n != m:
        fail(csv_path, f"{m} CSV rows for {n} JSONL rows")
    if ds is None:
        return 0
    for col in ["comparison", "run_id", "case_id", "variant", "rater", "scores", "mean", "output"]:
        if col not in ds.column_names:
            fail(jsonl, f"no column {col}")
    for i, row in enumerate(ds):
        where = f"{jsonl}:{i + 1}"
        scores = {k: v for k, v in row["scores"].items() if v is not None}
        if not scores:
            fail(where, "no scores")
            continue
        for k, v in scores.items():
            if not 1 <= v <= scale:
                fail(where, f"{k}={v} outside 1..{scale}")
        mean = sum(scores.values()) / len(scores)
        if abs(mean - row["mean"]) > 0.006:
            fail(where, f"mean {row['mean']} is not the mean of {scores}")
    for col in ["comparison", "rater", "mean", "output"]:
        if dc is not None and col not in dc.column_names:
            fail(csv_path, f"no column {col}")
    return n


def check_raw(path):
    ds = load(path)
    if ds is None:
        return 0
    for col in ["run_id", "variant", "case_id", "repeat", "messages", "text", "usage", "checks", "passed"]:
        if col not in ds.column_names:
            fail(path, f"no column {col}")
    return ds.num_rows


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def main(folder):
    manifests = sorted(f for f in os.listdir(folder) if f.endswith(".manifest.json"))
    if not manifests:
        fail(folder, "no manifest")
    seen = set()
    for name in manifests:
        with open(os.path.join(folder, name)) as f:
            manifest = json.load(f)
        fmt = manifest["format"]
        seen.add(fmt)
        rows = {}
        for entry in manifest["files"]:
            path = os.path.join(folder, entry["path"])
            if sha256(path) != entry["sha256"]:
                fail(path, "sha256 differs from the manifest's")
            rows[entry["path"]] = entry["rows"]
        loaded = {}
        if fmt in ("sft", "dpo", "openai-dpo"):
            together = load_splits(folder, fmt)
            for name, split in [("train", "train"), ("validation", "valid")]:
                if name in together and together[name] != rows.get(f"{fmt}.{split}.jsonl"):
                    fail(name, f"{fmt} {name} loaded with {together[name]} rows, the manifest says "
                               f"{rows.get(f'{fmt}.{split}.jsonl')}")
        for split in ["train", "valid"]:
            path = os.path.join(folder, f"{fmt}.{split}.jsonl")
            if not os.path.exists(path):
                continue
            check = {"sft": check_sft, "dpo": check_dpo, "openai-dpo": check_openai_dpo}[fmt]
            loaded[f"{fmt}.{split}.jsonl"] = check(path)
        if fmt == "rubric":
            loaded["rubric.jsonl"] = check_rubric(
                os.path.join(folder, "rubric.jsonl"), os.path.join(folder, "rubric.csv"), 5
            )
        if fmt == "raw":
            loaded["raw.jsonl"] = check_raw(os.path.join(folder, "raw.jsonl"))
        for path, n in loaded.items():
            if rows.get(path) != n:
                fail(path, f"datasets loaded {n} rows, the manifest says {rows.get(path)}")
        out = manifest["counts"]["rows_out"]
        if sum(loaded.values()) != out:
            fail(name, f"rows_out {out}, files hold {sum(loaded.values())}")
        print(f"{fmt}: {', '.join(f'{p} {n} rows' for p, n in loaded.items())}")
    for fmt in ["sft", "dpo", "openai-dpo", "rubric", "raw"]:
        if fmt not in seen:
            fail(folder, f"no {fmt} export")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"datasets {datasets.__version__}: every export loads and follows its consumer's rules")


if __name__ == "__main__":
    main(sys.argv[1])
