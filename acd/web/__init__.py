"""HTTP: the REST API, the supervisors' and agents' pages and live server-sent events.

``app.create_app(WebContext(...))`` builds the application. Who is asking and what
they may do: ``security`` (the contract every router uses: ``current_user``,
``require``), ``accounts`` (users, sessions, API tokens), ``audit``. The areas:
``users`` (sign-in, users, tokens, audit log), ``telephony`` (queue groups, numbers),
``agents``, ``calls`` (history, decision log, missed calls), ``outbox`` (CRM),
``channels_api`` (chats, e-mail, forms). Configuration changes go through
``settings_changes`` (validate, apply, write the TOML file, audit). The first
administrator: ``bootstrap.bootstrap_admin``.
"""
