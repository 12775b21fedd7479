"""``flask shell`` opens with the database and the models already imported."""

from __future__ import annotations

from flask.cli import shell_command

import console.models
from console.database import db


def test_shell_context_has_db_and_every_model(app):
    context = app.make_shell_context()

    assert context["db"] is db
    assert console.models.__all__, "the models package names its models"
    for name in console.models.__all__:
        assert context[name] is getattr(console.models, name)


def test_flask_shell_runs_with_the_models_imported(runner):
    # The enums are what Flask-SQLAlchemy's own shell context (mapped classes only) lacks.
    line = "print('found', db.session.query(Order).filter_by(status=OrderStatus.PENDING).count())\n"
    result = runner.invoke(shell_command, input=line)

    assert result.exit_code == 0, result.output
    assert "Error" not in result.output
    assert "found 0" in result.output
