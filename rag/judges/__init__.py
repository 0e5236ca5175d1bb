"""Faithfulness judges: evidence alignment (`alignment`, the default, no model), the model's scored verdict
(`llm`), both combined (`combined`) and a trained cross-encoder (`cross_encoder`); `choice` builds one by name."""
