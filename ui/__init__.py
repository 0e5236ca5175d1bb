"""The Streamlit app (`rag ui`): chat, documents, evaluations, system. `app.py` is the script Streamlit runs."""
