"""Check learners against the AIS now: `manage.py ais_check --username demo-learner`,
`manage.py ais_check --id-number 150102199003071237`, or `manage.py ais_check --due` (what the
periodic sweep would queue). Used by `make run` after the simulator is up."""

from django.core.management.base import BaseCommand, CommandError

from cpe.accounts.models import User
from cpe.core import crypto
from cpe.reporting.errors import ReportingError
from cpe.reporting.services import ais_person_check, ais_recheck_sweep


class Command(BaseCommand):
    help = "Look learners up in the AIS (docs/rules.md R1.9)."

    def add_arguments(self, parser):
        parser.add_argument("--username", action="append", default=[])
        parser.add_argument("--id-number", action="append", default=[])
        parser.add_argument("--due", action="store_true", help="queue every check that is due")

    def handle(self, *args, **opts):
        if opts["due"]:
            self.stdout.write(f"queued {ais_recheck_sweep()} check(s)")
        users = list(User.objects.filter(username__in=opts["username"]))
        for number in opts["id_number"]:
            users += list(User.objects.filter(id_number_bidx=crypto.blind_index("id_number", number.upper())))
        if not users and not opts["due"]:
            raise CommandError("no such learner (give --username, --id-number or --due)")
        for user in users:
            try:
                person = ais_person_check(user_id=user.pk)
            except ReportingError as exc:
                self.stdout.write(f"{user.username}: {exc.message}")
            else:
                self.stdout.write(f"{user.username}: {person.get_last_result_display()} {person.person_id}")
