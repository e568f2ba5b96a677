//! Loupe: a terminal workbench for deciding between prompting, RAG and fine-tuning with data.
