"""OpenAI's wire format for lectern's chat, model and embedding routes.

The routes themselves are `app.routes.openai_chat` and `app.routes.openai_models`; the use
cases behind them are `pipelines.chat`. Here: the request bodies (`schemas`), the
`chat.completion` objects and chunks (`chunks`), their SSE framing (`sse`), OpenAI's error
shape on these routes (`errors`, with the `OpenAIErrorShape` middleware) and the per-app
`Gateway` dependency (`deps`).
"""

from app.openai_compat.errors import OPENAI_PATHS, OpenAIErrorShape, is_openai_path, openai_error

__all__ = ["OPENAI_PATHS", "OpenAIErrorShape", "is_openai_path", "openai_error"]
