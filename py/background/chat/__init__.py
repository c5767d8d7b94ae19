"""The ``chat`` capability: sending messages, the turns that answer them, the request queue.

:class:`~background.chat.service.ChatService` handles the requests;
:class:`~background.chat.scheduler.Scheduler` starts turns at once or queues them;
:class:`~background.chat.session.PanelSession` greets a panel with ``hello``.
"""
