"""Attachments: screenshots, images and files shown to the model with a message.

* :mod:`.model` — what an attachment is, the limits, sniffing, refusals;
* :mod:`.imaging` — the image budget and the plan a renderer follows;
* :mod:`.store` — the IndexedDB bridge's contract, its in-memory twin, the library;
* :mod:`.items` — attachments as request content on the Responses and Chat wires.
"""
