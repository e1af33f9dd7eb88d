from django.contrib.auth.models import Group, Permission

from .roles import ROLES


def roles_sync() -> None:
    """Make each role's group hold exactly its permissions (run after every migrate)."""
    for _key, (group_name, perms) in ROLES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)
