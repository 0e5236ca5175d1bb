"""Chat: grounded answers with checkable sources, marked unsupported sentences, honest abstentions."""

from __future__ import annotations

import queue
import threading

import common
import streamlit as st

from rag.answer.choice import describe
from rag.conversation import delete_session, list_sessions, rename_session, session_messages
from rag.generation.model_files import active_model
from rag.sources import source_file


def sidebar(collections):
    names = [c.name for c in collections]
    with st.sidebar:
        st.subheader("Chat settings")
        name = st.selectbox("Collection", names, key="collection")
        k = st.slider("Sources", 1, 20, common.settings().retrieval.k, key="k")
        mode = st.selectbox("Unsupported sentences", ["flag", "strip", "abstain"],
                            index=["flag", "strip", "abstain"].index(common.settings().answer.mode), key="mode")
        try:
            model = active_model(common.settings())
        except Exception as exc:  # noqa: BLE001 - a wrong model setting is shown, and the extractive answerer stays
            st.warning(str(exc))
            model = None
        choices = ([f"model: {model.describe()}"] if model else []) + ["extractive"]
        choice = st.radio("Answerer", choices, key="answerer_choice")
        st.caption(f"Model file: {model.path}" if model else "No generation model installed or chosen "
                   "(`rag models install`, `rag models use`).")
        coll = next(c for c in collections if c.name == name)
        history(coll)
    return coll, k, mode, (model if choice != "extractive" else None)


def history(coll):
    st.subheader("Chats")
    if st.button("New chat", use_container_width=True):
        st.session_state.chat_id = None
    for chat in list_sessions(common.store(), coll.id)[:30]:
        if st.button(chat.title[:40], key=f"chat-{chat.id}", use_container_width=True):
            st.session_state.chat_id = chat.id
    chat_id = st.session_state.get("chat_id")
    if chat_id:
        with st.expander("This chat"):
            title = st.text_input("Rename", key=f"rename-{chat_id}")
            if st.button("Rename", key="do-rename") and title:
                rename_session(common.store(), chat_id, title)
                st.rerun()
            if st.button("Delete chat", key="do-delete"):
                delete_session(common.store(), chat_id)
                st.session_state.chat_id = None
                st.rerun()


def highlighted(text: str, evidence: str) -> str:
    """The chunk with its supporting sentence highlighted (both escaped: shown, never interpreted)."""
    at = text.find(evidence) if evidence else -1
    if at < 0:
        return common.inert(text)
    before, after = text[:at], text[at + len(evidence):]
    return f"{common.inert(before)}:orange-background[{common.inert(evidence)}]{common.inert(after)}"


def source_card(citation: dict, evidence: str, key: str) -> None:
    name = citation.get("title") or source_file(citation["document"]).name
    page = f", p. {citation['page']}" if citation.get("page") else ""
    if citation.get("ocr_confidence") is not None:  # read from a scan: the reader should check the original
        page += f" (OCR, confidence {citation['ocr_confidence']:.0f})"
    with st.expander(f"[{citation['number']}] {name}{page}"):
        st.markdown(highlighted(citation["text"], evidence))
        original = source_file(citation["document"])
        if original.is_file():
            st.download_button("Open the original file", original.read_bytes(), file_name=original.name,
                               key=f"open-{key}-{citation['number']}")


def render_answer(answer: dict, key: str) -> None:
    if answer["abstained"]:
        st.markdown(f"**{common.inert(answer['answer'])}**")
        if answer.get("closest"):
            st.caption("Closest passages found:")
            for citation in answer["closest"][:3]:
                source_card(citation, "", key)
        return
    score = answer["groundedness"]
    color = "green" if score >= 0.99 else "orange" if score >= 0.5 else "red"
    st.badge(f"groundedness {score:.2f}", color=color)
    if answer.get("relevance") is not None:  # the model's check that the answer answers the question
        relevance = answer["relevance"]
        st.badge(f"answers the question {relevance:.2f}", color="green" if relevance >= 0.5 else "red")
    for sentence in answer["sentences"]:
        marks = "".join(f"\\[{n}\\]" for n in sentence["cited"])
        text = common.inert(sentence["text"])
        if sentence["supported"]:
            st.markdown(f"{text} **{marks}**")
        else:
            st.markdown(f":red-background[{text}] **{marks}** :red[(not supported by its sources)]")
    for warning in answer.get("warnings", []):
        st.caption(common.inert(warning))
    for citation in answer["citations"]:
        evidence = next((s["evidence"] for s in answer["sentences"] if citation["number"] in s["cited"]), "")
        source_card(citation, evidence, key)


def feedback(message_id: int) -> None:
    value = st.feedback("thumbs", key=f"feedback-{message_id}")
    if value is not None:
        comment = st.text_input("Comment (optional)", key=f"comment-{message_id}")
        common.workspace().feedback(message_id, helpful=value == 1, comment=comment)


def streamed(turn, result: dict):
    """Pieces of a generated answer as they come; the chat turn (or the error) lands in `result` at the end."""
    pieces: queue.Queue = queue.Queue()

    def work():
        try:
            result["turn"] = turn(pieces.put)
        except Exception as exc:  # noqa: BLE001 - shown to the user below
            result["error"] = exc
        pieces.put(None)

    threading.Thread(target=work, daemon=True).start()
    while (piece := pieces.get()) is not None:
        yield piece


def ask(coll, k: int, mode: str, model, question: str) -> None:
    workspace = common.workspace()
    generator = common.generator(str(model.path), model.sha256) if model else None
    answerer = workspace.answerer(coll.name, mode=mode, extractive=model is None, generator=generator)

    def turn(on_text=None):
        return workspace.chat_turn(question, coll.name, st.session_state.get("chat_id"), k=k, mode=mode,
                                   extractive=model is None, generator=generator, on_text=on_text)

    with st.chat_message("user"):
        st.markdown(common.inert(question))
    with st.chat_message("assistant"):
        st.caption(describe(answerer))
        if generator is not None:
            result: dict = {}
            with st.empty():
                st.write_stream(streamed(turn, result))
            if "error" in result:
                st.error(str(result["error"]))
                return
            chat = result["turn"]
        else:
            with st.spinner("Searching your documents..."):
                chat = turn()
    st.session_state.chat_id = chat.session_id
    st.rerun()


def main() -> None:
    st.title("Chat with your documents")
    collections = common.collections()
    if not collections:
        st.info("No documents yet: add some on the Documents page (or `rag ingest FOLDER`).")
        return
    coll, k, mode, model = sidebar(collections)
    chat_id = st.session_state.get("chat_id")
    for message in session_messages(common.store(), chat_id) if chat_id else []:
        with st.chat_message(message.role):
            if message.role == "user":
                st.markdown(common.inert(message.content))
            else:
                render_answer(message.answer, str(message.id))
                feedback(message.id)
    question = st.chat_input(f"Ask about {coll.name}")
    if question:
        ask(coll, k, mode, model, question)


main()
