"""Which open conversation a person's next message answers: the one they used last.

A person has one chat with the bot, and several conversations may wait for a text in it at
once: "✉️ Message them" pressed and left, then "🕒 Change time" pressed on the same card. PTB
offers an update to the handlers of a group in the order they were added, and a conversation
waiting for text takes any text, so the first one added answered, whatever the person did
last: the new time went to every participant as the host's message.

`Conversation` is a ConversationHandler that records, in the person's `user_data`, that it
handled their latest update (a press, a text), and that leaves a message to the others while
another conversation holds that mark. A conversation left behind keeps its state until its
timeout (which tells the person, as before) or until they use it again, from a button of its
that is still on screen, which makes it the latest again. A person with no mark yet (data from
before this existed) is answered as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telegram import Update
from telegram.ext import Application, ConversationHandler

LATEST = "conversation"  # in user_data: the name of the conversation used last


class Conversation(ConversationHandler[Any]):
    """A ConversationHandler that takes a person's message only while it is the conversation
    they used last (`people`: the application's `user_data`, read without creating entries)."""

    def __init__(self, *args: Any, people: Mapping[int, Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._people = people

    def check_update(self, update: object) -> Any:
        if isinstance(update, Update) and update.message is not None:
            person = update.effective_user
            data = self._people.get(person.id) if person is not None else None
            latest = data.get(LATEST) if data else None
            if latest is not None and latest != self.name:
                return None  # another conversation was used since: the message is not ours
        return super().check_update(update)

    async def handle_update(
        self, update: Update, application: Application[Any, Any, Any, Any, Any, Any],
        check_result: Any, context: Any,
    ) -> object:  # fmt: skip
        if context.user_data is not None and self.name is not None:
            context.user_data[LATEST] = self.name
        return await super().handle_update(update, application, check_result, context)
