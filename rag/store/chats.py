"""The store's queries for chat sessions and their messages (mixed into `Store`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rag.store.tables import ChatMessage, ChatSession


class ChatQueries:
    def add_chat(self, session: Session, collection_id: int, title: str) -> int:
        chat = ChatSession(collection_id=collection_id, title=title[:200])
        session.add(chat)
        session.flush()
        return chat.id

    def add_turn(self, session: Session, chat_id: int, question: str, standalone: str, answer_text: str,
                 answer: dict) -> None:
        session.add(ChatMessage(session_id=chat_id, role="user", content=question, standalone=standalone))
        session.add(ChatMessage(session_id=chat_id, role="assistant", content=answer_text, answer=answer))

    def last_standalone(self, session: Session, chat_id: int) -> str | None:
        return session.scalar(
            select(ChatMessage.standalone).where(ChatMessage.session_id == chat_id, ChatMessage.role == "user")
            .order_by(ChatMessage.id.desc()).limit(1))

    def chats(self, session: Session, collection_id: int) -> list[ChatSession]:
        return list(session.scalars(select(ChatSession).where(ChatSession.collection_id == collection_id)
                                    .order_by(ChatSession.id.desc())))

    def chat_messages(self, session: Session, chat_id: int) -> list[ChatMessage]:
        return list(session.scalars(select(ChatMessage).where(ChatMessage.session_id == chat_id)
                                    .order_by(ChatMessage.id)))

    def rename_chat(self, session: Session, chat_id: int, title: str) -> None:
        chat = session.get(ChatSession, chat_id)
        if chat is not None:
            chat.title = title.strip()[:200] or chat.title

    def delete_chat(self, session: Session, chat_id: int) -> None:
        chat = session.get(ChatSession, chat_id)
        if chat is not None:
            session.delete(chat)

    def set_feedback(self, session: Session, message_id: int, feedback: dict) -> None:
        message = session.get(ChatMessage, message_id)
        if message is not None and message.role == "assistant":
            message.feedback = feedback

    def liked_answers(self, session: Session, collection_id: int, limit: int = 2000) -> list[tuple[str, str]]:
        """(question as retrieved with, answer text) of the collection's answers marked helpful, newest first."""
        liked = session.scalars(
            select(ChatMessage).join(ChatSession, ChatSession.id == ChatMessage.session_id)
            .where(ChatSession.collection_id == collection_id, ChatMessage.role == "assistant",
                   ChatMessage.feedback.is_not(None))
            .order_by(ChatMessage.id.desc()).limit(limit))
        pairs = []
        for message in liked:
            if not (message.feedback or {}).get("helpful") or (message.answer or {}).get("abstained"):
                continue
            asked = session.scalars(
                select(ChatMessage).where(ChatMessage.session_id == message.session_id, ChatMessage.role == "user",
                                          ChatMessage.id < message.id)
                .order_by(ChatMessage.id.desc()).limit(1)).first()
            if asked is not None:
                pairs.append((asked.standalone or asked.content, message.content))
        return pairs
