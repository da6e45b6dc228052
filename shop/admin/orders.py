"""Orders and the audit log in the admin area.

The order pages list and show orders and move them along through :mod:`shop.services.orders`;
the shopper's mail goes out after the commit. The audit log is read-only: no route here or
anywhere else edits or deletes an entry. The admin blueprint's ``require_admin`` hook guards all
of it.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from shop.admin import bp
from shop.errors import wants_json
from shop.extensions import db
from shop.forms import clean_text
from shop.models import ORDER_STATUSES
from shop.services import audit, orders
from shop.services.analytics import ALL_TIME, DateRange, DateRangeError
from shop.web import parse_page

ORDERS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
BUTTONS = {
    "paid": "Mark paid",
    "shipped": "Mark shipped",
    "delivered": "Mark delivered",
    "cancelled": "Cancel order",
}


class OrderFilterForm(FlaskForm):
    """The order list's filters (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s, s.capitalize()) for s in ORDER_STATUSES],
    )
    start = StringField("From", filters=[clean_text], validators=[Optional(), Length(max=10)])
    end = StringField("To", filters=[clean_text], validators=[Optional(), Length(max=10)])
    customer = StringField(
        "Customer email or name", filters=[clean_text], validators=[Optional(), Length(max=254)]
    )


class TransitionForm(FlaskForm):
    """One of an order's buttons: the status it moves to, and a note (a cancellation's reason)."""

    to = HiddenField(validators=[InputRequired(message="Choose what to do with the order.")])
    note = TextAreaField(
        "Reason or note",
        filters=[clean_text],
        validators=[Length(max=orders.MAX_NOTE, message="Keep the note to 500 characters.")],
    )


@bp.route("/orders")
def orders_list():
    form = OrderFilterForm(request.args)
    days, problem = ALL_TIME, None
    try:
        days = DateRange.parse(form.start.data, form.end.data)
    except DateRangeError as exc:
        problem = str(exc)
    status = form.status.data if form.status.data in ORDER_STATUSES else None
    query = orders.admin_query(status=status, days=days, customer=form.customer.data or None)
    count, amount = orders.totals(query)
    pager = db.paginate(
        orders.listing(query),
        page=parse_page(request.args.get("page")),
        per_page=ORDERS_PER_PAGE,
        error_out=False,
    )
    status_code = 400 if problem else 200
    return (
        render_template(
            "admin/orders.html",
            form=form,
            pager=pager,
            count=count,
            amount=amount,
            problem=problem,
        ),
        status_code,
    )


def _order_page(order, form: TransitionForm | None = None, status: int = 200):
    return (
        render_template(
            "admin/order.html",
            order=order,
            next_steps=[(s.value, BUTTONS[s.value]) for s in orders.allowed(order.status)],
            form=form or TransitionForm(formdata=None),
        ),
        status,
    )


@bp.route("/orders/<id:order_id>")
def order_page(order_id: int):
    order = orders.order_for_admin(order_id)
    if order is None:
        abort(404)
    return _order_page(order)


@bp.route("/orders/<id:order_id>/status", methods=["POST"])
def order_move(order_id: int):
    order = orders.order_for_admin(order_id)
    if order is None:
        abort(404)
    form = TransitionForm()
    if not form.validate_on_submit():
        message = next(iter(e for errors in form.errors.values() for e in errors), "Bad request.")
        flash(str(message), "danger")
        return _order_page(order, form, 400)
    try:
        event = orders.move(order, form.to.data, note=form.note.data, actor=current_user)
    except orders.TransitionRefused as exc:
        db.session.rollback()
        order = orders.order_for_admin(order_id)
        code = 409
        if isinstance(exc, orders.ReasonRequired):
            form.note.errors = [exc.message]  # shown next to the reason field
            code = 400
        else:
            flash(exc.message, "warning")
        if wants_json():
            return {"error": {"status": code, "message": exc.message}}, code
        return _order_page(order, form, code)
    # Everything the answer needs is read before the commit: after it, nothing here may touch
    # the database until the mail is handed over.
    mail = orders.status_mail(order, event)
    message = f"Order #{order.id} is now {event.to_status}."
    target = url_for("admin.order_page", order_id=order.id)
    db.session.commit()
    if orders.send_status_mail(mail):
        message += f" A mail to {mail[0]} is on its way."
    flash(message, "success")
    return redirect(target)


@bp.route("/audit")
def audit_log():
    prefix = clean_text(request.args.get("action", ""))[:64]
    pager = db.paginate(
        audit.entries_query(action_prefix=prefix or None),
        page=parse_page(request.args.get("page")),
        per_page=AUDIT_PER_PAGE,
        error_out=False,
    )
    return render_template("admin/audit.html", pager=pager, prefix=prefix)
