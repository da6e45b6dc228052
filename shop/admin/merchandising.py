"""The admin's merchandising page: pinned products per category, boosted and buried categories.

Thin views in the manner of :mod:`shop.admin.products`: a form checks the input, a service in
:mod:`shop.services.merchandising` checks the rules, writes, audits and flushes, the view commits
and redirects. A refusal re-renders the page with the message next to the field and a 4xx status,
and rolls back, so nothing is half-stored.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from shop.admin import bp
from shop.admin.forms import ActionForm
from shop.admin.merchandising_forms import BoostForm, PinForm
from shop.extensions import db
from shop.models import Category, CategoryBoost, CategoryPin
from shop.services import merchandising


def _pin_prefix(category_id: int) -> str:
    return f"pin{category_id}"


def _page(pin_form: PinForm | None = None, pin_category_id: int | None = None, boost_form=None):
    """The page; ``pin_form`` (for ``pin_category_id``) or ``boost_form`` is the one that failed."""
    categories = list(db.session.scalars(db.select(Category).order_by(Category.name)))
    pins = merchandising.pins_by_category()
    sections = []
    for category in categories:
        category_pins = pins.get(category.id, [])
        if category.id == pin_category_id and pin_form is not None:
            form = pin_form
        else:
            taken = {pin.position for pin in category_pins}
            free = [i for i in range(1, merchandising.MAX_PINS + 1) if i not in taken]
            form = PinForm(formdata=None, prefix=_pin_prefix(category.id))
            form.position.data = free[0] if free else 1
        sections.append(
            {
                "category": category,
                "pins": [(pin, merchandising.pin_note(pin)) for pin in category_pins],
                "form": form,
                "full": len(category_pins) >= merchandising.MAX_PINS,
                "failed": category.id == pin_category_id,
                "candidates": merchandising.pin_candidates(category.id),
            }
        )
    today = merchandising.today()
    boosts = [(b, merchandising.boost_status(b, today)) for b in merchandising.all_boosts()]
    if boost_form is None:
        boost_form = BoostForm(formdata=None)
        boost_form.starts_on.data = today
        boost_form.ends_on.data = today
    return render_template(
        "admin/merchandising.html",
        sections=sections,
        boosts=boosts,
        boost_form=boost_form,
        max_pins=merchandising.MAX_PINS,
        today=today,
    )


@bp.route("/merchandising")
def merchandising_page():
    return _page()


@bp.route("/merchandising/categories/<id:category_id>/pins", methods=["POST"])
def merchandising_pin(category_id: int):
    category = db.get_or_404(Category, category_id)
    form = PinForm(prefix=_pin_prefix(category.id))
    if not form.validate_on_submit():
        return _page(pin_form=form, pin_category_id=category.id), 422
    try:
        pin = merchandising.add_pin(category, form.found, form.position.data)
    except merchandising.MerchandisingRefused as exc:
        db.session.rollback()
        getattr(form, exc.field or "product").errors = [str(exc)]
        return _page(pin_form=form, pin_category_id=category_id), 409
    db.session.commit()
    flash(f"Pinned “{pin.product.name}” at position {pin.position} in {category.name}.", "success")
    return redirect(url_for("admin.merchandising_page", _anchor=f"pins-{category.id}"))


@bp.route("/merchandising/pins/<id:pin_id>/remove", methods=["POST"])
def merchandising_unpin(pin_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    pin = db.get_or_404(CategoryPin, pin_id)
    name, category_id, category_name = pin.product.name, pin.category_id, pin.category.name
    merchandising.remove_pin(pin)
    db.session.commit()
    flash(f"Unpinned “{name}” from {category_name}.", "success")
    return redirect(url_for("admin.merchandising_page", _anchor=f"pins-{category_id}"))


@bp.route("/merchandising/boosts", methods=["POST"])
def merchandising_boost():
    form = BoostForm()
    if not form.validate_on_submit():
        return _page(boost_form=form), 422
    category = db.session.get(Category, int(form.category.data))
    if category is None:  # deleted between the form's check and here
        form.category.errors = ["Choose one of the shop's categories."]
        return _page(boost_form=form), 422
    try:
        merchandising.add_boost(
            category, form.weight, form.starts_on.data, form.ends_on.data, form.note.data or ""
        )
    except merchandising.MerchandisingRefused as exc:
        db.session.rollback()
        getattr(form, exc.field or "category").errors = [str(exc)]
        return _page(boost_form=form), 422
    db.session.commit()
    verb = "Boosted" if form.kind.data == "boost" else "Buried"
    flash(f"{verb} {category.name} from {form.starts_on.data} to {form.ends_on.data}.", "success")
    return redirect(url_for("admin.merchandising_page", _anchor="boosts"))


@bp.route("/merchandising/boosts/<id:boost_id>/remove", methods=["POST"])
def merchandising_unboost(boost_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    boost = db.get_or_404(CategoryBoost, boost_id)
    category_name = boost.category.name
    merchandising.remove_boost(boost)
    db.session.commit()
    flash(f"Removed the weight on {category_name}.", "success")
    return redirect(url_for("admin.merchandising_page", _anchor="boosts"))
