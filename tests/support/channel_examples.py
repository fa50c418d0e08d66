"""Each platform's documented example payloads (from the parser tests), as a platform would send them."""

from __future__ import annotations

from tests.unit import (test_channel_livechat as livechat, test_channel_messenger as messenger,
                        test_channel_slack as slack, test_channel_telegram as telegram, test_channel_web as web)

EXAMPLES: dict[str, list[dict]] = {
    "telegram": [telegram.GUIDE_MESSAGE, telegram.GUIDE_CALLBACK],
    "messenger": [messenger.TEXT_WITH_QUICK_REPLY, messenger.IMAGE, messenger.POSTBACK],
    "livechat": [livechat.INCOMING_EVENT, livechat.POSTBACK, livechat.INCOMING_CHAT],
    "slack": [slack.MESSAGE_IM, slack.BLOCK_ACTIONS],
    "web": [web.EXAMPLE],
}
