# The risk app's RiskAction becomes trading's JournalEntry, the engine's journal, keeping its rows and
# their ids: the state takes over the table as it is (risk 0006 removes it from the risk app's state),
# then the table is renamed (risk_riskaction -> trading_journalentry), action_type becomes kind (same
# values), the index follows, and the f-string notes become data: each existing row keeps its text as
# details["note"] (shown as it was; an offset still waiting for its loser then gets its outcome added
# when it comes), new rows store what their wording needs in details (trading.journal).

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, JSONObject

KINDS = [('offset_loss', 'Loss offset (loser closed, winners reduced)'), ('close', 'Position closed'), ('manual_block', 'Blocked from risk'), ('manual_unblock', 'Unblocked'), ('manual_skip', 'Skip next evaluation'), ('timer_started', 'Risk timer started'), ('timer_expired', 'Risk timer expired'), ('timer_reset', 'Risk timer reset'), ('engine_paused', 'Engine paused by loss limit'), ('force_stop', 'Engine force-stopped'), ('force_start', 'Engine force-started'), ('orphan_cancelled', 'Unknown exchange order cancelled (reconciliation)')]


def notes_to_details(apps, schema_editor):
    JournalEntry = apps.get_model('trading', 'JournalEntry')
    JournalEntry.objects.update(details=JSONObject(note=F('notes')))
    JournalEntry.objects.filter(kind='offset_loss', winners_state='waiting').update(
        details=JSONObject(note=F('notes'), outcome_pending=Value(True)))
    _check_constraints_now(schema_editor)


def details_to_notes(apps, schema_editor):
    # Rows written after the migration have no note: their text was rendered, never stored.
    JournalEntry = apps.get_model('trading', 'JournalEntry')
    JournalEntry.objects.update(notes=Coalesce(KeyTextTransform('note', 'details'), Value('')))
    _check_constraints_now(schema_editor)


def _check_constraints_now(schema_editor):
    # The updates leave deferred foreign-key checks pending, and PostgreSQL refuses to alter a table
    # with pending trigger events (the column change that follows in this transaction): run them now.
    if schema_editor.connection.vendor == 'postgresql':
        schema_editor.execute('SET CONSTRAINTS ALL IMMEDIATE')
        schema_editor.execute('SET CONSTRAINTS ALL DEFERRED')


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0009_riskconfig_from_risk'),
        ('risk', '0005_riskconfig_to_trading'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='JournalEntry',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('action_type', models.CharField(choices=KINDS, max_length=20)),
                        ('winners_state', models.CharField(blank=True, choices=[('waiting', "Waiting for the loser's close"), ('dispatched', 'Winners reduced after the loser closed'), ('cancelled', "Loser's close failed; winners untouched")], help_text="Loss offsets: the winners are reduced only once the loser's close has filled.", max_length=12)),
                        ('loser_pnl_usd', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('required_usd', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('winner_details', models.JSONField(blank=True, default=list, help_text='[{group_id, symbol, quantity_closed, pnl_usd, price}, …]')),
                        ('exit_reason', models.CharField(blank=True, choices=[('exit_signal', 'Exit signal'), ('take_profit', 'Per-leg take-profit'), ('aggregate_tp', 'Aggregate take-profit'), ('pyramid_tp', 'Pyramid take-profit'), ('stop_loss', 'Stop loss'), ('risk_offset', 'Risk offset'), ('manual', 'Manual'), ('reduce', 'Reduce'), ('reverse', 'Reverse')], max_length=20)),
                        ('entry_price', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('exit_price', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('quantity_closed', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('realized_pnl_usd', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('pnl_percent', models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True)),
                        ('duration_seconds', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('notes', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('group', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='journal_entries', to='trading.positiongroup')),
                        ('loser_group', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='trading.positiongroup')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='journal_entries', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'journal entry',
                        'verbose_name_plural': 'journal entries',
                        'ordering': ['-created_at'],
                        'db_table': 'risk_riskaction',
                        'indexes': [models.Index(fields=['user', 'action_type', 'created_at'], name='riskaction_user_type_time')],
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(name='journalentry', table=None),
        # The column is renamed (the index follows it) and the index renamed, not rebuilt.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RenameIndex(model_name='journalentry', new_name='journal_user_kind_time',
                                       old_name='riskaction_user_type_time'),
                migrations.RenameField(model_name='journalentry', old_name='action_type', new_name='kind'),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name='journalentry', name='riskaction_user_type_time'),
                migrations.RenameField(model_name='journalentry', old_name='action_type', new_name='kind'),
                migrations.AddIndex(model_name='journalentry', index=models.Index(
                    fields=['user', 'kind', 'created_at'], name='journal_user_kind_time')),
            ],
        ),
        migrations.AddField(
            model_name='journalentry',
            name='details',
            field=models.JSONField(blank=True, default=dict, help_text='What the wording needs beyond the columns (symbol, side, who, …); numbers as strings.'),
        ),
        migrations.RunPython(notes_to_details, details_to_notes),
        migrations.RemoveField(model_name='journalentry', name='notes'),
    ]
