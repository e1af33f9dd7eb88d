import pytest
from django.core.exceptions import ImproperlyConfigured

from cpe.core.hooks import Hook


def test_send_calls_every_function_in_order_and_registering_again_changes_nothing():
    hook = Hook("t.many")
    hook.register("b", lambda x: f"b{x}", order=20)
    hook.register("a", lambda x: f"a{x}", order=10)
    hook.register("a", lambda x: f"a{x}", order=10)  # a second ready()
    assert hook.send(1) == ["a1", "b1"]


def test_a_single_hook_has_one_provider_and_an_unfilled_one_fails_loudly():
    hook = Hook("t.one", single=True)
    with pytest.raises(ImproperlyConfigured):
        hook(1)
    hook.register("app", lambda x: x + 1)
    assert hook(1) == 2
    with pytest.raises(ImproperlyConfigured):
        hook.register("other", lambda x: x)


def test_every_hook_of_the_apps_is_filled():
    """Each hook a lower app declares is filled by an installed app's AppConfig.ready()."""
    from cpe.accounts import hooks as accounts
    from cpe.catalog import hooks as catalog
    from cpe.credits import hooks as credits
    from cpe.learning import hooks as learning
    from cpe.orders import hooks as orders

    for module in (accounts, catalog, credits, learning, orders):
        for name, hook in vars(module).items():
            if isinstance(hook, Hook):
                assert hook.keys(), f"{module.__name__}.{name} has no provider"
