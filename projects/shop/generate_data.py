"""Generate the raw CSV files of the shop example workspace.

Stdlib only and seeded, so every run writes byte-identical files:

    python projects/shop/generate_data.py

Writes data/customers.csv, data/orders.csv and data/payments.csv next to this file.
Amounts are integer cents. The data carries a few deliberate rough edges that the
staging models clean up: mixed-case statuses and emails, padded whitespace, empty
optional fields, orders before the workspace's start_date, unpaid and cancelled
orders, split payments and full or partial refunds.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 42
N_CUSTOMERS = 300
N_ORDERS = 2000
FIRST_ORDER_DAY = date(2023, 11, 1)  # two months before start_date: filtered out downstream
LAST_ORDER_DAY = date(2024, 12, 31)

FIRST_NAMES = [
    "Ada",
    "Ben",
    "Carla",
    "Dmitri",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Ivo",
    "Jonas",
    "Kemal",
    "Lena",
    "Mateo",
    "Nora",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
]
LAST_NAMES = [
    "Almeida",
    "Brandt",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Rossi",
    "Silva",
    "Tanaka",
    "Varga",
    "Weber",
    "Yilmaz",
]
# country code -> weight
COUNTRIES = {
    "US": 30, "CA": 8, "GB": 12, "DE": 14, "FR": 9, "NL": 6, "ES": 5, "AU": 6, "JP": 5, "BR": 5,
}  # fmt: skip
COUPONS = ["WELCOME10", "SPRING24", "VIP20", "BLACKFRIDAY"]
METHODS = {"credit_card": 60, "paypal": 20, "bank_transfer": 15, "gift_card": 5}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def make_customers(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for customer_id in range(1, N_CUSTOMERS + 1):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        email = f"{first}.{last}{customer_id}@example.com".lower()
        roll = rng.random()
        if roll < 0.05:
            email = ""  # optional field left empty
        elif roll < 0.10:
            email = f"  {first}.{last}{customer_id}@Example.COM "  # needs trim + lower
        country = _pick(rng, COUNTRIES)
        if rng.random() < 0.05:
            country = country.lower()  # needs upper
        rows.append(
            {
                "customer_id": customer_id,
                "first_name": first,
                "last_name": last,
                "email": email,
                "country": country,
                "signup_date": _day(rng, date(2023, 1, 1), date(2024, 10, 31)).isoformat(),
            }
        )
    return rows


def make_orders(rng: random.Random) -> list[dict[str, Any]]:
    # A skewed customer mix: a few heavy buyers, a long tail, and some customers who never order.
    weights = [
        rng.lognormvariate(0.0, 0.9) if rng.random() < 0.85 else 0.0 for _ in range(N_CUSTOMERS)
    ]
    days = sorted(_day(rng, FIRST_ORDER_DAY, LAST_ORDER_DAY) for _ in range(N_ORDERS))
    rows = []
    for order_id, day in enumerate(days, start=1):
        customer_id = rng.choices(range(1, N_CUSTOMERS + 1), weights=weights)[0]
        if (LAST_ORDER_DAY - day).days < 14:
            status = rng.choice(["placed", "placed", "shipped", "cancelled"])
        else:
            status = rng.choices(
                ["completed", "shipped", "returned", "cancelled"], weights=[80, 5, 8, 7]
            )[0]
        if rng.random() < 0.03:
            status = status.capitalize() if rng.random() < 0.5 else f" {status.upper()}"
        amount_cents = max(299, int(rng.lognormvariate(8.6, 0.7)))  # median around 54 dollars
        coupon = rng.choice(COUPONS) if rng.random() < 0.15 else ""
        rows.append(
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "order_date": day.isoformat(),
                "status": status,
                "amount_cents": amount_cents,
                "coupon_code": coupon,
            }
        )
    return rows


def make_payments(rng: random.Random, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def pay(order_id: int, method: str, cents: int, at: datetime) -> None:
        rows.append(
            {
                "payment_id": len(rows) + 1,
                "order_id": order_id,
                "payment_method": method.upper() if rng.random() < 0.02 else method,
                "amount_cents": cents,
                "paid_at": _ts(at),
            }
        )

    for order in orders:
        status = str(order["status"]).strip().lower()
        cents = int(order["amount_cents"])
        placed = datetime.fromisoformat(str(order["order_date"])) + timedelta(
            minutes=rng.randint(8 * 60, 22 * 60)
        )
        if status == "placed" and rng.random() < 0.4:
            continue  # not paid yet
        if status == "cancelled" and rng.random() < 0.5:
            continue  # cancelled before payment
        method = _pick(rng, METHODS)
        paid_at = placed + timedelta(minutes=rng.randint(1, 48 * 60))
        if method != "gift_card" and rng.random() < 0.12:
            # split: part on a gift card, the rest on the main method
            gift = rng.randint(1, max(1, cents // 2))
            pay(order["order_id"], "gift_card", gift, paid_at)
            second_at = paid_at + timedelta(seconds=rng.randint(5, 90))
            pay(order["order_id"], method, cents - gift, second_at)
        else:
            pay(order["order_id"], method, cents, paid_at)
        if status == "cancelled":
            refund_at = paid_at + timedelta(hours=rng.randint(1, 72))
            pay(order["order_id"], method, -cents, refund_at)
        elif status == "returned":
            refund = cents if rng.random() < 0.7 else cents // 2
            refund_at = paid_at + timedelta(days=rng.randint(5, 30), minutes=rng.randint(0, 600))
            pay(order["order_id"], method, -refund, refund_at)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(SEED)
    out = Path(__file__).resolve().parent / "data"
    out.mkdir(exist_ok=True)
    customers = make_customers(rng)
    orders = make_orders(rng)
    payments = make_payments(rng, orders)
    write_csv(out / "customers.csv", customers)
    write_csv(out / "orders.csv", orders)
    write_csv(out / "payments.csv", payments)
    print(f"wrote {len(customers)} customers, {len(orders)} orders, {len(payments)} payments")


if __name__ == "__main__":
    main()
