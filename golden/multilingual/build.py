"""Build golden/multilingual/cases.jsonl: banking queries in Spanish, German and French (10 intents x 3).

Run from the repo root after golden/banking77 (it reuses that set's system turn):

    .venv/bin/python golden/multilingual/build.py

The queries are written by hand for this harness (not translations of particular Banking77 rows), one
per language for each of ten clear-cut intents. `expected` is the intent; the suite also accepts the
fallback label `out_of_scope`, because a router trained on English that declines a message it cannot
read sends it to a person, which is safe, while routing it to the wrong intent is not. Tags: the
intent and `lang:es|de|fr`. Rebuilding gives a byte-identical file; after a change, re-freeze the lock.
"""

from __future__ import annotations

from pathlib import Path

from harness.golden import GoldenCase, load_file, write_file

HERE = Path(__file__).resolve().parent
BANKING77 = HERE.parent / "banking77" / "cases.jsonl"

QUERIES: dict[str, dict[str, str]] = {
    "card_arrival": {
        "es": "Pedí una tarjeta nueva hace dos semanas y todavía no me ha llegado.",
        "de": "Ich habe vor zwei Wochen eine neue Karte bestellt und sie ist immer noch nicht angekommen.",
        "fr": "J'ai commandé une nouvelle carte il y a deux semaines et je ne l'ai toujours pas reçue.",
    },
    "lost_or_stolen_card": {
        "es": "Me han robado la cartera con mi tarjeta dentro, ¿qué hago?",
        "de": "Meine Karte wurde gestohlen, was soll ich jetzt tun?",
        "fr": "On m'a volé ma carte bancaire, que dois-je faire ?",
    },
    "change_pin": {
        "es": "¿Cómo puedo cambiar el PIN de mi tarjeta?",
        "de": "Wie kann ich die PIN meiner Karte ändern?",
        "fr": "Comment est-ce que je peux changer le code PIN de ma carte ?",
    },
    "exchange_rate": {
        "es": "¿Qué tipo de cambio usáis para convertir euros a libras?",
        "de": "Welchen Wechselkurs verwendet ihr, um Euro in Pfund umzurechnen?",
        "fr": "Quel taux de change utilisez-vous pour convertir des euros en livres ?",
    },
    "cash_withdrawal_charge": {
        "es": "¿Por qué me cobraron una comisión al sacar dinero del cajero?",
        "de": "Warum wurde mir eine Gebühr berechnet, als ich Geld am Automaten abgehoben habe?",
        "fr": "Pourquoi ai-je payé des frais en retirant de l'argent au distributeur ?",
    },
    "terminate_account": {
        "es": "Quiero cerrar mi cuenta, ¿cómo lo hago?",
        "de": "Ich möchte mein Konto kündigen. Wie geht das?",
        "fr": "Je veux clôturer mon compte, comment faire ?",
    },
    "declined_card_payment": {
        "es": "Mi tarjeta fue rechazada al pagar en el supermercado, ¿por qué?",
        "de": "Meine Kartenzahlung im Supermarkt wurde abgelehnt, warum?",
        "fr": "Mon paiement par carte a été refusé au supermarché, pourquoi ?",
    },
    "pending_transfer": {
        "es": "Mi transferencia sigue pendiente desde ayer.",
        "de": "Meine Überweisung ist seit gestern noch ausstehend.",
        "fr": "Mon virement est toujours en attente depuis hier.",
    },
    "activate_my_card": {
        "es": "¿Cómo activo mi nueva tarjeta?",
        "de": "Wie aktiviere ich meine neue Karte?",
        "fr": "Comment activer ma nouvelle carte ?",
    },
    "passcode_forgotten": {
        "es": "Olvidé el código de acceso de la app y no puedo entrar.",
        "de": "Ich habe meinen Zugangscode für die App vergessen und komme nicht mehr rein.",
        "fr": "J'ai oublié mon code d'accès à l'application et je ne peux plus me connecter.",
    },
}
LANGUAGES = ("es", "de", "fr")


def build() -> list[GoldenCase]:
    system = load_file(BANKING77)[0].messages[0]  # type: ignore[index]
    return [
        GoldenCase.model_validate({
            "id": f"ml-{lang}-{i:02d}",
            "messages": [system, {"role": "user", "content": by_lang[lang]}],
            "expected": intent,
            "tags": [intent, f"lang:{lang}"],
        })
        for lang in LANGUAGES
        for i, (intent, by_lang) in enumerate(QUERIES.items(), start=1)
    ]  # fmt: skip


def main() -> None:
    cases = build()
    out = HERE / "cases.jsonl"
    write_file(out, cases)
    print(f"wrote {out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
