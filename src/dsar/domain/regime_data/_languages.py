# ruff: noqa: E501  (names are data: kept on one line each)
"""The regime facts a letter names, in the letters' other languages (German, French, Spanish).

Per regime and language (:class:`dsar.domain.regime_model.Wording`):

* ``regulator``: the same body as the regime's ``regulator`` — never another one. Where the body
  has an official name in that language it is used (Switzerland's EDÖB and PFPDT, Quebec's
  Commission d'accès à l'information, Canada's Commissariat à la protection de la vie privée,
  the GDPR's terms in the GDPR's own German, French and Spanish text: Aufsichtsbehörde /
  autorité de contrôle / autoridad de control, Art. 77 and 79); otherwise its official name is
  kept (English, Portuguese ...) and a description in the letter's language follows it.
* ``title``: the law's official title in that language where it has one; empty keeps the
  English (US state laws, Singapore's and Australia's acts are titled in English).
* ``law_words``: the law's phrase where it sets no number ("without delay"), translated; a
  letter quotes it in its own language.

Each text is written to follow a colon ("... you may contact: NAME"), so no sentence around it
has to decline it. ``tests/unit/test_regime_data.py`` checks every regime has every language
and that each name still names its body (its acronym, web address or official name);
docs/regimes.md lists them.
"""

from __future__ import annotations

from dsar.domain.regime_model import Wording

_AG = {  # "the STATE Attorney General": the state's name in German, French and Spanish
    "de": "Generalstaatsanwalt von {}",
    "fr": "procureur général {}",
    "es": "fiscal general de {}",
}


def _attorney_general(official: str, state: dict[str, str], unit: dict[str, str] | None = None) -> dict[str, Wording]:
    """A US state's Attorney General (the official English name kept), described in words.
    ``state``: the state's name per language (French with its preposition: "du Colorado",
    "de l'Iowa"); ``unit``: the office's division in words, when the regime names one."""
    out = {}
    for lang, article in (("de", "der"), ("fr", "le"), ("es", "el")):
        described = _AG[lang].format(state[lang])
        if unit is not None:
            described += f", {unit[lang]}"
        name = f"{article} {official}"
        if lang == "fr" and official[0] in "AEIOU":
            name = f"l'{official}"
        out[lang] = Wording(regulator=f"{name} ({described})")
    return out


_CONSUMER_PROTECTION_DIVISION = {
    "de": "Abteilung Verbraucherschutz",
    "fr": "division de la protection des consommateurs",
    "es": "división de protección al consumidor",
}
_OFFICE_OF_CONSUMER_PROTECTION = {
    "de": "Büro für Verbraucherschutz",
    "fr": "bureau de la protection des consommateurs",
    "es": "oficina de protección al consumidor",
}

WORDING: dict[str, dict[str, Wording]] = {
    "gdpr": {
        "de": Wording(
            regulator="die Aufsichtsbehörde des Mitgliedstaats (Art. 77 DSGVO) und ein wirksamer gerichtlicher Rechtsbehelf (Art. 79 DSGVO)",
            title="Datenschutz-Grundverordnung der EU (DSGVO)",
        ),
        "fr": Wording(
            regulator="l'autorité de contrôle de l'État membre (art. 77 du RGPD) et un recours juridictionnel effectif (art. 79 du RGPD)",
            title="règlement général sur la protection des données de l'UE (RGPD)",
        ),
        "es": Wording(
            regulator="la autoridad de control del Estado miembro (art. 77 del RGPD) y la tutela judicial efectiva (art. 79 del RGPD)",
            title="Reglamento General de Protección de Datos de la UE (RGPD)",
        ),
    },
    "uk-gdpr": {
        "de": Wording(
            regulator="das Information Commissioner's Office (ICO, ico.org.uk), die Datenschutzaufsichtsbehörde des Vereinigten Königreichs, und ein gerichtlicher Rechtsbehelf"
        ),
        "fr": Wording(
            regulator="l'Information Commissioner's Office (ICO, ico.org.uk), autorité de protection des données du Royaume-Uni, et un recours juridictionnel"
        ),
        "es": Wording(
            regulator="la Information Commissioner's Office (ICO, ico.org.uk), autoridad de protección de datos del Reino Unido, y la tutela judicial"
        ),
    },
    "ccpa": {
        "de": Wording(
            regulator="die California Privacy Protection Agency (cppa.ca.gov), die Datenschutzbehörde Kaliforniens, oder der California Attorney General (Generalstaatsanwalt von Kalifornien)"
        ),
        "fr": Wording(
            regulator="la California Privacy Protection Agency (cppa.ca.gov), autorité de protection de la vie privée de Californie, ou le California Attorney General (procureur général de Californie)"
        ),
        "es": Wording(
            regulator="la California Privacy Protection Agency (cppa.ca.gov), agencia de protección de la privacidad de California, o el California Attorney General (fiscal general de California)"
        ),
    },
    "vcdpa": _attorney_general(
        "Virginia Attorney General, Consumer Protection Section",
        {"de": "Virginia", "fr": "de Virginie", "es": "Virginia"},
        {
            "de": "Sektion Verbraucherschutz",
            "fr": "section de la protection des consommateurs",
            "es": "sección de protección al consumidor",
        },
    ),
    "cpa": _attorney_general("Colorado Attorney General", {"de": "Colorado", "fr": "du Colorado", "es": "Colorado"}),
    "ctdpa": _attorney_general("Connecticut Attorney General", {"de": "Connecticut", "fr": "du Connecticut", "es": "Connecticut"}),
    "ucpa": {
        "de": Wording(regulator="die Utah Division of Consumer Protection (Verbraucherschutzbehörde des Bundesstaats Utah)"),
        "fr": Wording(regulator="la Utah Division of Consumer Protection (service de la protection des consommateurs de l'Utah)"),
        "es": Wording(regulator="la Utah Division of Consumer Protection (división de protección al consumidor de Utah)"),
    },
    "tdpsa": _attorney_general(
        "Texas Attorney General, Consumer Protection Division",
        {"de": "Texas", "fr": "du Texas", "es": "Texas"},
        _CONSUMER_PROTECTION_DIVISION,
    ),
    "ocpa": _attorney_general(
        "Oregon Attorney General, Oregon Department of Justice",
        {"de": "Oregon", "fr": "de l'Oregon", "es": "Oregón"},
        {"de": "Justizministerium von Oregon", "fr": "ministère de la Justice de l'Oregon", "es": "Departamento de Justicia de Oregón"},
    ),
    "lgpd": {
        "de": Wording(
            regulator="die Autoridade Nacional de Proteção de Dados (ANPD), die brasilianische Datenschutzbehörde",
            title="Lei Geral de Proteção de Dados (LGPD), das brasilianische Datenschutzgesetz",
        ),
        "fr": Wording(
            regulator="l'Autoridade Nacional de Proteção de Dados (ANPD), autorité brésilienne de protection des données",
            title="Lei Geral de Proteção de Dados (LGPD), loi brésilienne sur la protection des données",
        ),
        "es": Wording(
            regulator="la Autoridade Nacional de Proteção de Dados (ANPD), autoridad brasileña de protección de datos",
            title="Lei Geral de Proteção de Dados (LGPD), ley brasileña de protección de datos",
        ),
    },
    "ca-qc": {
        "de": Wording(
            regulator="die Commission d'accès à l'information du Québec (cai.gouv.qc.ca), die Datenschutzbehörde von Québec",
            title="Loi sur la protection des renseignements personnels dans le secteur privé (Gesetz 25, Québec)",
        ),
        "fr": Wording(
            regulator="la Commission d'accès à l'information du Québec (cai.gouv.qc.ca)",
            title="Loi sur la protection des renseignements personnels dans le secteur privé du Québec (Loi 25)",
        ),
        "es": Wording(
            regulator="la Commission d'accès à l'information du Québec (cai.gouv.qc.ca), autoridad de protección de datos de Quebec",
            title="Loi sur la protection des renseignements personnels dans le secteur privé (Ley 25, Quebec)",
        ),
    },
    "pipeda": {
        "de": Wording(
            regulator="das Office of the Privacy Commissioner of Canada (Commissariat à la protection de la vie privée du Canada), die Behörde des kanadischen Datenschutzbeauftragten"
        ),
        "fr": Wording(
            regulator="le Commissariat à la protection de la vie privée du Canada",
            title="Loi sur la protection des renseignements personnels et les documents électroniques (LPRPDE)",
        ),
        "es": Wording(
            regulator="la Office of the Privacy Commissioner of Canada (Commissariat à la protection de la vie privée du Canada), oficina del comisionado de privacidad de Canadá"
        ),
    },
    "us-fl": {
        "de": Wording(regulator="das Florida Department of Legal Affairs (Generalstaatsanwaltschaft von Florida, Attorney General)"),
        "fr": Wording(regulator="le Florida Department of Legal Affairs (bureau du procureur général de Floride, Attorney General)"),
        "es": Wording(regulator="el Florida Department of Legal Affairs (Fiscalía General de Florida, Attorney General)"),
    },
    "us-mt": _attorney_general(
        "Montana Attorney General, Office of Consumer Protection",
        {"de": "Montana", "fr": "du Montana", "es": "Montana"},
        _OFFICE_OF_CONSUMER_PROTECTION,
    ),
    "us-ia": _attorney_general(
        "Iowa Attorney General, Consumer Protection Division",
        {"de": "Iowa", "fr": "de l'Iowa", "es": "Iowa"},
        _CONSUMER_PROTECTION_DIVISION,
    ),
    "us-de": {
        "de": Wording(regulator="das Delaware Department of Justice (privacy@delaware.gov), das Justizministerium von Delaware"),
        "fr": Wording(regulator="le Delaware Department of Justice (privacy@delaware.gov), ministère de la Justice du Delaware"),
        "es": Wording(regulator="el Delaware Department of Justice (privacy@delaware.gov), Departamento de Justicia de Delaware"),
    },
    "us-ne": _attorney_general("Nebraska Attorney General", {"de": "Nebraska", "fr": "du Nebraska", "es": "Nebraska"}),
    "us-nh": _attorney_general(
        "New Hampshire Attorney General, Consumer Protection and Antitrust Bureau",
        {"de": "New Hampshire", "fr": "du New Hampshire", "es": "Nuevo Hampshire"},
        {
            "de": "Büro für Verbraucherschutz und Kartellrecht",
            "fr": "bureau de la protection des consommateurs et de la concurrence",
            "es": "oficina de protección al consumidor y defensa de la competencia",
        },
    ),
    "us-nj": {
        "de": Wording(
            regulator="die New Jersey Division of Consumer Affairs (Verbraucherschutzbehörde von New Jersey, beim Attorney General)"
        ),
        "fr": Wording(
            regulator="la New Jersey Division of Consumer Affairs (direction de la consommation du New Jersey, rattachée au procureur général, Attorney General)"
        ),
        "es": Wording(
            regulator="la New Jersey Division of Consumer Affairs (división de asuntos del consumidor de Nueva Jersey, adscrita al fiscal general, Attorney General)"
        ),
    },
    "us-tn": _attorney_general(
        "Tennessee Attorney General, Consumer Protection Division",
        {"de": "Tennessee", "fr": "du Tennessee", "es": "Tennessee"},
        _CONSUMER_PROTECTION_DIVISION,
    ),
    "us-mn": _attorney_general("Minnesota Attorney General", {"de": "Minnesota", "fr": "du Minnesota", "es": "Minnesota"}),
    "us-md": _attorney_general(
        "Maryland Attorney General, Consumer Protection Division",
        {"de": "Maryland", "fr": "du Maryland", "es": "Maryland"},
        _CONSUMER_PROTECTION_DIVISION,
    ),
    "us-in": _attorney_general("Indiana Attorney General", {"de": "Indiana", "fr": "de l'Indiana", "es": "Indiana"}),
    "us-ky": _attorney_general(
        "Kentucky Attorney General, Office of Consumer Protection",
        {"de": "Kentucky", "fr": "du Kentucky", "es": "Kentucky"},
        _OFFICE_OF_CONSUMER_PROTECTION,
    ),
    "us-ri": _attorney_general("Rhode Island Attorney General", {"de": "Rhode Island", "fr": "du Rhode Island", "es": "Rhode Island"}),
    "us-ok": _attorney_general("Oklahoma Attorney General", {"de": "Oklahoma", "fr": "de l'Oklahoma", "es": "Oklahoma"}),
    "us-la": _attorney_general("Louisiana Attorney General", {"de": "Louisiana", "fr": "de Louisiane", "es": "Luisiana"}),
    "us-al": _attorney_general("Alabama Attorney General", {"de": "Alabama", "fr": "de l'Alabama", "es": "Alabama"}),
    "ch": {
        "de": Wording(
            regulator="der Eidgenössische Datenschutz- und Öffentlichkeitsbeauftragte (EDÖB)",
            title="Bundesgesetz über den Datenschutz (DSG)",
        ),
        "fr": Wording(
            regulator="le Préposé fédéral à la protection des données et à la transparence (PFPDT)",
            title="loi fédérale sur la protection des données (LPD)",
        ),
        "es": Wording(
            regulator="el Federal Data Protection and Information Commissioner (FDPIC; EDÖB en alemán, PFPDT en francés), comisionado federal suizo de protección de datos y transparencia",
            title="Ley federal suiza de protección de datos (nLPD/revDSG)",
        ),
    },
    "kr": {
        "de": Wording(regulator="die Personal Information Protection Commission (PIPC), die koreanische Datenschutzkommission"),
        "fr": Wording(
            regulator="la Personal Information Protection Commission (PIPC), commission coréenne de protection des informations personnelles"
        ),
        "es": Wording(
            regulator="la Personal Information Protection Commission (PIPC), comisión coreana de protección de la información personal"
        ),
    },
    "jp": {
        "de": Wording(
            regulator="die Personal Information Protection Commission (PPC), die japanische Datenschutzkommission",
            title="Japanisches Gesetz zum Schutz personenbezogener Informationen (APPI)",
            law_words="unverzüglich",
        ),
        "fr": Wording(
            regulator="la Personal Information Protection Commission (PPC), commission japonaise de protection des informations personnelles",
            title="loi japonaise sur la protection des informations personnelles (APPI)",
            law_words="sans délai",
        ),
        "es": Wording(
            regulator="la Personal Information Protection Commission (PPC), comisión japonesa de protección de la información personal",
            title="Ley japonesa de protección de la información personal (APPI)",
            law_words="sin demora",
        ),
    },
    "sg": {
        "de": Wording(
            regulator="die Personal Data Protection Commission (PDPC), die Datenschutzkommission Singapurs",
            law_words="so bald wie vernünftigerweise möglich",
        ),
        "fr": Wording(
            regulator="la Personal Data Protection Commission (PDPC), commission de protection des données de Singapour",
            law_words="dès que raisonnablement possible",
        ),
        "es": Wording(
            regulator="la Personal Data Protection Commission (PDPC), comisión de protección de datos de Singapur",
            law_words="tan pronto como sea razonablemente posible",
        ),
    },
    "nz": {
        "de": Wording(regulator="der Privacy Commissioner (privacy.org.nz), der Datenschutzbeauftragte Neuseelands"),
        "fr": Wording(
            regulator="le Privacy Commissioner (privacy.org.nz), commissaire à la protection de la vie privée de Nouvelle-Zélande"
        ),
        "es": Wording(regulator="el Privacy Commissioner (privacy.org.nz), comisionado de privacidad de Nueva Zelanda"),
    },
    "au": {
        "de": Wording(
            regulator="das Office of the Australian Information Commissioner (OAIC), die australische Datenschutzbehörde",
            law_words="innerhalb einer angemessenen Frist nach Stellung der Anfrage",
        ),
        "fr": Wording(
            regulator="l'Office of the Australian Information Commissioner (OAIC), autorité australienne de protection des données",
            law_words="dans un délai raisonnable après la présentation de la demande",
        ),
        "es": Wording(
            regulator="la Office of the Australian Information Commissioner (OAIC), autoridad australiana de protección de datos",
            law_words="en un plazo razonable después de presentada la solicitud",
        ),
    },
    "th": {
        "de": Wording(regulator="das Personal Data Protection Committee (PDPC Thailand), die thailändische Datenschutzbehörde"),
        "fr": Wording(regulator="le Personal Data Protection Committee (PDPC Thailand), autorité thaïlandaise de protection des données"),
        "es": Wording(regulator="el Personal Data Protection Committee (PDPC Thailand), autoridad tailandesa de protección de datos"),
    },
    "tr": {
        "de": Wording(regulator="der Personal Data Protection Board (KVKK Kurulu), die türkische Datenschutzbehörde"),
        "fr": Wording(regulator="le Personal Data Protection Board (KVKK Kurulu), autorité turque de protection des données"),
        "es": Wording(regulator="el Personal Data Protection Board (KVKK Kurulu), autoridad turca de protección de datos"),
    },
    "za": {
        "de": Wording(regulator="der Information Regulator (inforegulator.org.za), die südafrikanische Datenschutzbehörde"),
        "fr": Wording(regulator="l'Information Regulator (inforegulator.org.za), autorité sud-africaine de protection des données"),
        "es": Wording(regulator="el Information Regulator (inforegulator.org.za), autoridad sudafricana de protección de datos"),
    },
}
