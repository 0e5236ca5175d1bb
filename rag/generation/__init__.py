"""The local generation model: llama.cpp generators (`generators`), the GGUF catalog, installation and the
active model's file (`model_catalog`, `model_install`, `model_files`), sampling and the prompt-prefix cache."""
