# RiskConfig moves from the risk app to trading: state only, the table keeps its name (risk_riskconfig),
# its rows, its check constraints' names. risk 0005 removes it from the risk app's state.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import trading.models


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0008_pyramid_sizing'),
        ('risk', '0004_close_before_open'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RiskConfig',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('max_open_positions_global', models.PositiveIntegerField(default=10)),
                        ('max_open_positions_per_symbol', models.PositiveIntegerField(default=1)),
                        ('max_total_exposure_usd', models.DecimalField(decimal_places=12, default=10000, max_digits=28)),
                        ('max_realized_loss_usd', models.DecimalField(decimal_places=12, default=500, help_text='Daily realised loss that pauses new entries (circuit breaker).', max_digits=28)),
                        ('queue_ttl_minutes', models.PositiveIntegerField(default=60, help_text='Queued signals expire after this.')),
                        ('priority_rules', models.JSONField(default=trading.models.default_priority_rules, help_text='Switch each promotion rule on or off: same_pair_timeframe, deepest_loss_percent, highest_replacement, fifo_fallback.')),
                        ('loss_threshold_percent', models.DecimalField(decimal_places=12, default=-1.5, max_digits=28)),
                        ('required_pyramids_for_timer', models.PositiveSmallIntegerField(default=3)),
                        ('post_pyramids_wait_minutes', models.PositiveIntegerField(default=15)),
                        ('max_winners_to_combine', models.PositiveSmallIntegerField(default=3)),
                        ('allow_partial_offset', models.BooleanField(default=False)),
                        ('evaluate_on_fill', models.BooleanField(default=False)),
                        ('evaluate_interval_seconds', models.PositiveIntegerField(default=60)),
                        ('engine_paused_by_loss_limit', models.BooleanField(default=False)),
                        ('engine_force_stopped', models.BooleanField(default=False)),
                        ('paused_at', models.DateTimeField(blank=True, null=True)),
                        ('last_evaluated_at', models.DateTimeField(blank=True, null=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='risk_config', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'risk configuration',
                        'db_table': 'risk_riskconfig',
                        'constraints': [models.CheckConstraint(condition=models.Q(('loss_threshold_percent__lt', 0)), name='risk_loss_threshold_negative'), models.CheckConstraint(condition=models.Q(('max_total_exposure_usd__gt', 0)), name='risk_exposure_positive'), models.CheckConstraint(condition=models.Q(('max_realized_loss_usd__gt', 0)), name='risk_max_loss_positive'), models.CheckConstraint(condition=models.Q(('max_winners_to_combine__gte', 1)), name='risk_winners_at_least_one'), models.CheckConstraint(condition=models.Q(('evaluate_interval_seconds__gte', 5)), name='risk_interval_at_least_5s'), models.CheckConstraint(condition=models.Q(('max_open_positions_global__gte', 1)), name='risk_pool_at_least_one')],
                    },
                ),
            ],
        ),
    ]
