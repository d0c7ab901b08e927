# RiskAction is now trading's JournalEntry (trading 0010 took over its table and rows): the risk app
# forgets it.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0005_riskconfig_to_trading'),
        ('trading', '0010_journalentry_from_riskaction'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='RiskAction'),
            ],
        ),
    ]
