from celery import shared_task


@shared_task
def close_expired_orders():
    from .services import orders_close_expired

    return orders_close_expired()


@shared_task
def resume_refunds():
    from .services import refunds_resume

    return refunds_resume()
