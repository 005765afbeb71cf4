"""The working paper's own words in English, Russian and Kazakh (numbers: reports.formatting).

Plain dictionaries rather than gettext: the paper's language is chosen per report (not the
interface language), and a past report regenerated from history must read exactly as filed.
Templates name their placeholders ({pct}, {n}, …); every number put into them is formatted by
reports.formatting from a value of the (suppressed) analysis table, never recomputed.

One module past 600 lines because it is one catalogue: every sentence of the paper side by side
in its three languages, which is how translators check them (and how a test checks that each
language has every sentence with the same placeholders).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

# The language names the UN prints after "Original:" (kept in English in every version).
ORIGINAL = {"en": "English", "ru": "Russian", "kk": "Kazakh"}

# The masthead fields a meeting decides; an empty setting takes its meeting's text.
MASTHEAD_FIELDS = ("meeting", "place_and_dates", "agenda_item", "agenda_title", "agenda_footnote")

# Meetings of States Parties whose agenda is published, by their last day. A paper's default
# meeting is the first one not over on the paper's date: never one that has already taken place.
MEETINGS: tuple[tuple[dt.date, dict[str, dict[str, str]]], ...] = (
    (
        dt.date(2025, 3, 7),
        {
            "en": {
                "meeting": (
                    "Third Meeting of States Parties to the Treaty on the Prohibition of "
                    "Nuclear Weapons"
                ),
                "place_and_dates": "New York, 3–7 March 2025",
                "agenda_item": "Item 10 of the provisional agenda",
                "agenda_title": (
                    "Consideration of the status and operation of the Treaty and other matters "
                    "important for achieving the objectives and purposes of the Treaty"
                ),
                "agenda_footnote": "TPNW/MSP/2025/1.",
            },
            "ru": {
                "meeting": (
                    "Третье совещание государств — участников Договора о запрещении ядерного оружия"
                ),
                "place_and_dates": "Нью-Йорк, 3–7 марта 2025 года",
                "agenda_item": "Пункт 10 предварительной повестки дня",
                "agenda_title": (
                    "Рассмотрение состояния и действия Договора и других вопросов, имеющих важное "
                    "значение для достижения целей и задач Договора"
                ),
                "agenda_footnote": "TPNW/MSP/2025/1.",
            },
            "kk": {
                "meeting": (
                    "Ядролық қаруға тыйым салу туралы шартқа қатысушы мемлекеттердің үшінші кеңесі"
                ),
                "place_and_dates": "Нью-Йорк, 2025 жылғы 3–7 наурыз",
                "agenda_item": "Уақытша күн тәртібінің 10-тармағы",
                "agenda_title": (
                    "Шарттың жай-күйі мен жұмысын және Шарттың мақсаттары мен міндеттеріне қол "
                    "жеткізу үшін маңызды басқа да мәселелерді қарау"
                ),
                "agenda_footnote": "TPNW/MSP/2025/1.",
            },
        },
    ),
)
# After the last meeting listed: the Treaty's body without an ordinal, place or agenda (which
# the advocate types, and which the masthead leaves out until then).
NEXT_MEETING: dict[str, dict[str, str]] = {
    "en": {
        "meeting": "Meeting of States Parties to the Treaty on the Prohibition of Nuclear Weapons",
        "place_and_dates": "",
        "agenda_item": "",
        "agenda_title": "",
        "agenda_footnote": "",
    },
    "ru": {
        "meeting": "Совещание государств — участников Договора о запрещении ядерного оружия",
        "place_and_dates": "",
        "agenda_item": "",
        "agenda_title": "",
        "agenda_footnote": "",
    },
    "kk": {
        "meeting": "Ядролық қаруға тыйым салу туралы шартқа қатысушы мемлекеттердің кеңесі",
        "place_and_dates": "",
        "agenda_item": "",
        "agenda_title": "",
        "agenda_footnote": "",
    },
}


def meeting_defaults(language: str, day: dt.date) -> dict[str, str]:
    """The masthead texts of the first listed meeting not over on `day`, else NEXT_MEETING's."""
    for last_day, texts in sorted(MEETINGS, key=lambda item: item[0]):
        if last_day >= day:
            return dict(texts.get(language, texts["en"]))
    return dict(NEXT_MEETING.get(language, NEXT_MEETING["en"]))


TEXT: dict[str, dict[str, str]] = {
    "en": {
        # chapters and sections
        "summary": "Summary",
        "introduction": "Introduction",
        "background": "Background",
        "methodology": "Methodology",
        "findings": "Findings",
        "recommendations": "Recommendations",
        "section.profile": "Profile of respondents",
        "section.status": "Legal status and benefits",
        "section.health": "Health",
        "section.disability": "Functioning and disability",
        "section.psychosocial": "Psychological well-being",
        "section.socioeconomic": "Socioeconomic inclusion",
        "section.environment": "Environment",
        "section.intergenerational": "Intergenerational impacts",
        "section.disaggregated": "Gender, age and other differences",
        "section.priorities": "Priorities and support for reform",
        "section.severity": "Severity of needs (JIAF-inspired)",
        "section.quotes": "In their own words",
        "to_government": "To the Government of Kazakhstan",
        "to_states": "To States parties",
        "to_organizations": "To international organizations",
        "annex_title": "Indicator tables",
        # summary
        "summary_intro": (
            "This working paper presents the results of a needs assessment among people "
            "affected by nuclear testing and their descendants: {n} respondents were interviewed "
            "between {start} and {end}."
        ),
        "key_findings": "Key findings:",
        "key_item": "{label}: {pct}",
        "summary_convenience": (
            "The respondents were reached through community networks (a convenience sample): "
            "the figures describe the people interviewed and are not statistically "
            "representative of all affected people."
        ),
        "summary_recommendations": (
            "The paper closes with recommendations to the affected State, to States parties and "
            "to international organizations under articles 6 and 7 of the Treaty."
        ),
        # defaults for empty narrative
        "default_introduction": (
            "{organization} submits this working paper to inform the work of the Meeting of "
            "States Parties on articles 6 and 7 of the Treaty. It reports what people affected "
            "by nuclear testing, and their descendants, said about their needs."
        ),
        "default_background": (
            "Nuclear testing has harmed the health, livelihoods and environment of nearby "
            "communities for generations. Article 6 of the Treaty obliges each State party to "
            "provide age- and gender-sensitive assistance, without discrimination, to people "
            "affected by the use or testing of nuclear weapons and to remediate contaminated "
            "areas; article 7 calls on States parties in a position to do so to assist affected "
            "States."
        ),
        # methodology
        "m_period": "Interviews took place between {start} and {end} (survey round: {rounds}).",
        "m_districts": "Respondents live in {count} districts and cities: {names}.",
        "m_sample": (
            "The analysis covers the answers of {n} respondents, who also described {members} "
            "members of their households. The table below shows the respondents by district and "
            "generation."
        ),
        "m_sample_no_members": (
            "The analysis covers the answers of {n} respondents. The table below shows the "
            "respondents by district."
        ),
        "m_languages": "Interviews were conducted in {items}.",
        "m_consent": (
            "Every respondent was aged {min_age} or older and gave informed consent after hearing "
            "the purpose of the survey, that taking part was voluntary and would not affect any "
            "benefits, and that the answers could be withdrawn later with a receipt code. No "
            "names, identity numbers, telephone numbers, addresses or locations were recorded; "
            "results are reported by district, never by settlement."
        ),
        "m_refusals": (
            "People who declined to take part or were younger than {min_age}: {refused}. For "
            "them nothing but a count was kept."
        ),
        "m_refusals_hidden": (
            "Fewer than {k} people declined to take part or were younger than {min_age}; for them "
            "nothing but a count was kept."
        ),
        "m_refusals_none": "No refusals were recorded.",
        "m_review": "The analysis uses submissions with review status: {statuses}.",
        "m_excluded": "Submissions with other statuses were left out: {excluded}.",
        "m_filters": "This paper covers only respondents who match: {filters}.",
        "m_analysis": (
            "Shares are unweighted percentages of those who answered; the answers “don't know” "
            "and “prefer not to answer” are left out of the denominators. 95 per cent confidence "
            "intervals are Wilson intervals. Figures resting on fewer than 30 answers are marked "
            "with an asterisk (*) and are indicative only."
        ),
        "m_analysis_weighted": (
            "Shares are weighted percentages of those who answered; the answers “don't know” "
            "and “prefer not to answer” are left out of the denominators. 95 per cent confidence "
            "intervals are Wilson intervals on the effective sample size. Figures resting on "
            "fewer than 30 answers are marked with an asterisk (*) and are indicative only."
        ),
        "m_analysis_design": (
            "Shares and means are weighted with the survey's design weights; the answers “don't "
            "know” and “prefer not to answer” are left out of the denominators. 95 per cent "
            "confidence intervals take the sampling design into account: variances are "
            "estimated by Taylor linearisation with strata and clusters (households are the "
            "clusters of household members), and shares are given Wilson intervals on the "
            "design's effective sample size. Figures resting on fewer than 30 answers are marked "
            "with an asterisk (*) and are indicative only."
        ),
        "m_unknown": (
            "A person counts in a share only when their answers settle it: someone who wants "
            "psychological support but did not say whether they received it is left out of the "
            "unmet need for support, and a severity level (in need, acute) is counted only when "
            "the answers given establish it or rule it out, so that a question left unanswered is "
            "never read as “no need”. A household counts as having a cancer diagnosis when the "
            "respondent or any member has one."
        ),
        "m_tables": (
            "In the tables, % is the share of those who answered, 95% CI its 95 per cent "
            "confidence interval and n the number who answered (in profile tables, the number in "
            "the category)."
        ),
        "m_suppression": (
            "To protect respondents, no figure resting on fewer than {k} people is published: "
            "such cells, and any cell from which they could be worked out, are shown as “x”. "
            "Quotations appear only after a coordinator approved them for publication."
        ),
        "m_limitations": (
            "Limitations: respondents were reached through community networks, so this is a "
            "convenience sample and the results are not statistically representative of all "
            "affected people. Zones, diagnoses and benefits are as reported by respondents. "
            "Severity scores are JIAF-inspired, not an official JIAF analysis."
        ),
        "m_limitations_weighted": (
            "Limitations: zones, diagnoses and benefits are as reported by respondents. Severity "
            "scores are JIAF-inspired, not an official JIAF analysis."
        ),
        "m_demo": (
            "These figures come from synthetic demo data generated by the software; they "
            "describe no real person and must not be cited."
        ),
        # findings
        "theme_note": "Treaty provisions: {themes}.",
        "proportion": "{label}: {pct} of the {n} {units} (95 per cent confidence interval {ci}).",
        "units.respondent": "respondents who answered",
        "units.member": "household members with an answer",
        "units.household": "households whose answers settle it",
        "frequency": "{label} ({n} {units}): {items}.",
        "ranking": "{label}: most often ranked among the top three: {items}.",
        "severity": (
            "{label}: {in_need} in need (score 3 or more) and {acute} in acute need (score 4 or "
            "more), of {n} respondents."
        ),
        "mean": "{label}: mean {value} (95 per cent confidence interval {ci}; {n} {units}).",
        "median": "{label}: median {value} (95 per cent confidence interval {ci}; {n} {units}).",
        "item": "{category} ({pct})",
        "disaggregated_intro": (
            "Differences between groups are shown for key indicators; groups with too few "
            "respondents are not shown."
        ),
        "disaggregated": "{label}: {parts}.",
        "disaggregated_part": "by {variable}, from {low} ({low_group}) to {high} ({high_group})",
        "quotes_intro": (
            "Respondents were invited to say in their own words what they would like to tell "
            "States parties. The answers below are published with the approval of a "
            "coordinator, in the language in which they were given."
        ),
        "respondent": "Respondent",
        "recommendations_intro": (
            "The recommendations below draw on these findings and on articles 6 and 7 of the "
            "Treaty: assistance to victims and remediation of contaminated environments (article "
            "6), and international cooperation and assistance, including by States that used or "
            "tested nuclear weapons (article 7)."
        ),
        "recommendations_empty": "The submitting organization has not yet written recommendations.",
        # tables and charts
        "col.indicator": "Indicator",
        "col.group": "Group",
        "col.category": "Category",
        "col.pct": "%",
        "col.ci": "95% CI",
        "col.n": "n",
        "col.district": "District or city",
        "col.total": "Total",
        "row.all_districts": "All districts",
        "row.all": "All respondents",
        "table.section": "{section}: indicators",
        "table.districts": "Respondents by district and generation",
        "table.districts_only": "Respondents by district",
        "table.by_group": "{label}, by group",
        "chart.section": "{section}: share (%) with 95 per cent confidence intervals",
        "chart.by_group": "{label}, by {variable} (%)",
        "chart.alt": "Bar chart: {caption}. {items}.",
        "chart.hidden": "not shown",
        "note.suppressed": (
            "x: not shown to protect respondents (fewer than {k} people, or a figure from which "
            "such a group could be worked out)."
        ),
        "note.indicative": "*: fewer than 30 answers; indicative only.",
        "mean_suffix": "(mean)",
        "median_suffix": "(median)",
        "severity.in_need": "in need (3+)",
        "severity.acute": "acute need (4+)",
        "and": "and",
        # review statuses
        "status.approved": "approved",
        "status.pending": "awaiting review",
        "status.on_hold": "on hold",
        "status.rejected": "rejected",
        "in.kk": "in Kazakh",
        "in.ru": "in Russian",
        "in.en": "in English",
        "quote_translation": "Translation by the submitting organization",
    },
    "ru": {
        "summary": "Резюме",
        "introduction": "Введение",
        "background": "Общие сведения",
        "methodology": "Методология",
        "findings": "Результаты",
        "recommendations": "Рекомендации",
        "section.profile": "Профиль респондентов",
        "section.status": "Правовой статус и льготы",
        "section.health": "Здоровье",
        "section.disability": "Функционирование и инвалидность",
        "section.psychosocial": "Психологическое благополучие",
        "section.socioeconomic": "Социально-экономическая интеграция",
        "section.environment": "Окружающая среда",
        "section.intergenerational": "Последствия для следующих поколений",
        "section.disaggregated": "Гендер, возраст и другие различия",
        "section.priorities": "Приоритеты и поддержка реформ",
        "section.severity": "Тяжесть потребностей (по мотивам JIAF)",
        "section.quotes": "Своими словами",
        "to_government": "Правительству Республики Казахстан",
        "to_states": "Государствам-участникам",
        "to_organizations": "Международным организациям",
        "annex_title": "Таблицы показателей",
        "summary_intro": (
            "В настоящем рабочем документе представлены результаты оценки потребностей людей, "
            "пострадавших от ядерных испытаний, и их потомков. Опрос проводился с {start} по "
            "{end}; число опрошенных: {n}."
        ),
        "key_findings": "Основные результаты:",
        "key_item": "{label}: {pct}",
        "summary_convenience": (
            "Респонденты были найдены через местные сообщества (удобная выборка): цифры "
            "описывают опрошенных и не являются статистически репрезентативными для всех "
            "пострадавших."
        ),
        "summary_recommendations": (
            "В заключение приводятся рекомендации затронутому государству, "
            "государствам-участникам и международным организациям в соответствии со статьями 6 "
            "и 7 Договора."
        ),
        "default_introduction": (
            "{organization} представляет настоящий рабочий документ в качестве вклада в работу "
            "Совещания государств-участников по статьям 6 и 7 Договора. В нём изложено, что "
            "люди, пострадавшие от ядерных испытаний, и их потомки рассказали о своих "
            "потребностях."
        ),
        "default_background": (
            "Ядерные испытания на протяжении поколений наносят вред здоровью, источникам "
            "существования и окружающей среде соседних сообществ. Статья 6 Договора обязывает "
            "каждое государство-участник оказывать пострадавшим от применения или испытаний "
            "ядерного оружия помощь с учётом возраста и пола, без дискриминации, и восстанавливать "
            "загрязнённые территории; статья 7 призывает государства-участники, которые в "
            "состоянии это сделать, оказывать помощь затронутым государствам."
        ),
        "m_period": "Интервью проводились с {start} по {end} (раунд опроса: {rounds}).",
        "m_districts": "Респонденты проживают в районах и городах (всего {count}): {names}.",
        "m_sample": (
            "В анализ включены ответы {n} {respondents}, которые также сообщили сведения о членах "
            "своих домохозяйств (всего {members}). В таблице ниже респонденты распределены по "
            "районам и поколениям."
        ),
        "m_sample_no_members": (
            "В анализ включены ответы {n} {respondents}. В таблице ниже респонденты распределены "
            "по районам."
        ),
        "m_languages": "Языки интервью: {items}.",
        "m_consent": (
            "Все респонденты были в возрасте {min_age} лет и старше и дали информированное "
            "согласие, узнав о цели опроса, о добровольности участия, о том, что участие не "
            "повлияет на получение льгот, и о возможности позднее отозвать свои ответы по коду "
            "квитанции. Имена, идентификационные номера, номера телефонов, адреса и координаты "
            "не записывались; результаты приводятся только по районам, но не по населённым "
            "пунктам."
        ),
        "m_refusals": (
            "Отказались от участия или были моложе {min_age} лет: {refused}; о них сохранялось "
            "только число."
        ),
        "m_refusals_hidden": (
            "От участия отказались или были моложе {min_age} лет менее {k} человек; о них "
            "сохранялось только число."
        ),
        "m_refusals_none": "Отказов от участия не зарегистрировано.",
        "m_review": "В анализ включены анкеты со статусом проверки: {statuses}.",
        "m_excluded": "Анкеты с другими статусами не учитывались: {excluded}.",
        "m_filters": (
            "Документ охватывает только респондентов, соответствующих условиям: {filters}."
        ),
        "m_analysis": (
            "Доли — невзвешенные проценты от ответивших; ответы «не знаю» и «предпочитаю не "
            "отвечать» исключены из знаменателей. 95-процентные доверительные интервалы "
            "рассчитаны методом Уилсона. Показатели, основанные менее чем на 30 ответах, "
            "отмечены звёздочкой (*) и носят ориентировочный характер."
        ),
        "m_analysis_weighted": (
            "Доли — взвешенные проценты от ответивших; ответы «не знаю» и «предпочитаю не "
            "отвечать» исключены из знаменателей. 95-процентные доверительные интервалы "
            "рассчитаны методом Уилсона по эффективному объёму выборки. Показатели, основанные "
            "менее чем на 30 ответах, отмечены звёздочкой (*) и носят ориентировочный характер."
        ),
        "m_analysis_design": (
            "Доли и средние взвешены весами выборочного дизайна; ответы «не знаю» и «предпочитаю "
            "не отвечать» исключены из знаменателей. 95-процентные доверительные интервалы "
            "учитывают дизайн выборки: дисперсии оценены методом линеаризации Тейлора с учётом "
            "страт и кластеров (для членов домохозяйств кластер — домохозяйство), для долей "
            "построены интервалы Уилсона по эффективному объёму выборки с учётом дизайна. "
            "Показатели, основанные менее чем на 30 ответах, отмечены звёздочкой (*) и носят "
            "ориентировочный характер."
        ),
        "m_unknown": (
            "Человек учитывается в доле, только если его ответы позволяют её определить: тот, "
            "кто хотел бы получать психологическую помощь, но не сообщил, получал ли её, не "
            "учитывается в показателе неудовлетворённой потребности в поддержке; уровень "
            "тяжести (нуждается, острая нужда) засчитывается, только если данные ответы "
            "подтверждают или исключают его, поэтому вопрос без ответа никогда не считается "
            "отсутствием нужды. Домохозяйство считается имеющим диагноз рака, если он есть у "
            "респондента или у кого-либо из членов."
        ),
        "m_tables": (
            "В таблицах % — доля от ответивших, 95 % ДИ — её 95-процентный доверительный "
            "интервал, n — число ответивших (в таблицах профиля — число в категории)."
        ),
        "m_suppression": (
            "Для защиты респондентов показатели, основанные на ответах менее чем {k} человек, "
            "не публикуются: такие ячейки, а также ячейки, по которым их можно вычислить, "
            "обозначены знаком «x». Цитаты публикуются только после одобрения координатором."
        ),
        "m_limitations": (
            "Ограничения: респонденты были найдены через местные сообщества, поэтому выборка "
            "является удобной и результаты не являются статистически репрезентативными для всех "
            "пострадавших. Зоны, диагнозы и льготы указаны со слов респондентов. Оценки тяжести "
            "построены по мотивам JIAF и не являются официальным анализом JIAF."
        ),
        "m_limitations_weighted": (
            "Ограничения: зоны, диагнозы и льготы указаны со слов респондентов. Оценки тяжести "
            "построены по мотивам JIAF и не являются официальным анализом JIAF."
        ),
        "m_demo": (
            "Эти цифры получены на синтетических демонстрационных данных, созданных программой; "
            "они не описывают реальных людей, и ссылаться на них нельзя."
        ),
        "theme_note": "Положения Договора: {themes}.",
        "proportion": "{label}: {pct} из {n} {units} (95-процентный доверительный интервал: {ci}).",
        "units.respondent": "респондентов, ответивших на вопрос",
        "units.respondent.one": "респондента, ответившего на вопрос",
        "units.member": "членов домохозяйств, о которых есть ответ",
        "units.member.one": "члена домохозяйства, о котором есть ответ",
        "units.household": "домохозяйств, по ответам которых это известно",
        "units.household.one": "домохозяйства, по ответам которого это известно",
        "frequency": "{label} (число ответивших: {n}): {items}.",
        "ranking": "{label}: чаще всего входили в тройку самых важных: {items}.",
        "severity": (
            "{label}: нуждаются (балл 3 и выше) — {in_need}, в острой нужде (балл 4 и выше) — "
            "{acute} (число респондентов: {n})."
        ),
        "mean": (
            "{label}: среднее значение {value} (95-процентный доверительный интервал: {ci}; "
            "число ответивших: {n})."
        ),
        "median": (
            "{label}: медиана {value} (95-процентный доверительный интервал: {ci}; число "
            "ответивших: {n})."
        ),
        "item": "{category} ({pct})",
        "disaggregated_intro": (
            "Ниже приводятся различия между группами по основным показателям; группы, в которых "
            "слишком мало респондентов, не показаны."
        ),
        "disaggregated": "{label}: {parts}.",
        "disaggregated_part": (
            "по признаку «{variable}» — от {low} ({low_group}) до {high} ({high_group})"
        ),
        "quotes_intro": (
            "Респондентам было предложено своими словами сказать, что они хотели бы передать "
            "государствам-участникам. Приведённые ниже ответы публикуются с одобрения "
            "координатора на языке, на котором они были даны."
        ),
        "respondent": "Респондент",
        "recommendations_intro": (
            "Приведённые ниже рекомендации основаны на этих результатах и на статьях 6 и 7 "
            "Договора: помощь пострадавшим и восстановление загрязнённой окружающей среды "
            "(статья 6), международное сотрудничество и помощь, в том числе со стороны "
            "государств, применявших или испытывавших ядерное оружие (статья 7)."
        ),
        "recommendations_empty": (
            "Представившая документ организация ещё не подготовила рекомендации."
        ),
        "col.indicator": "Показатель",
        "col.group": "Группа",
        "col.category": "Категория",
        "col.pct": "%",
        "col.ci": "95\u00a0%\u00a0ДИ",
        "col.n": "n",
        "col.district": "Район или город",
        "col.total": "Всего",
        "row.all_districts": "Все районы",
        "row.all": "Все респонденты",
        "table.section": "{section}: показатели",
        "table.districts": "Респонденты по районам и поколениям",
        "table.districts_only": "Респонденты по районам",
        "table.by_group": "{label}: по группам",
        "chart.section": "{section}: доля (%) с 95-процентными доверительными интервалами",
        "chart.by_group": "{label}: по признаку «{variable}» (%)",
        "chart.alt": "Столбчатая диаграмма: {caption}. {items}.",
        "chart.hidden": "не показано",
        "note.suppressed": (
            "x: не показано для защиты респондентов (менее {k} человек или показатель, по "
            "которому можно вычислить такую группу)."
        ),
        "note.indicative": "*: менее 30 ответов; ориентировочное значение.",
        "mean_suffix": "(среднее)",
        "median_suffix": "(медиана)",
        "severity.in_need": "нуждаются (3+)",
        "severity.acute": "острая нужда (4+)",
        "and": "и",
        "status.approved": "одобрена",
        "status.pending": "ожидает проверки",
        "status.on_hold": "отложена",
        "status.rejected": "отклонена",
        "in.kk": "на казахском языке",
        "in.ru": "на русском языке",
        "in.en": "на английском языке",
        "quote_translation": "Перевод организации, представившей документ",
    },
    "kk": {
        "summary": "Түйіндеме",
        "introduction": "Кіріспе",
        "background": "Жалпы мәліметтер",
        "methodology": "Әдістеме",
        "findings": "Нәтижелер",
        "recommendations": "Ұсынымдар",
        "section.profile": "Респонденттердің сипаттамасы",
        "section.status": "Құқықтық мәртебе және жеңілдіктер",
        "section.health": "Денсаулық",
        "section.disability": "Тіршілік әрекеті және мүгедектік",
        "section.psychosocial": "Психологиялық әл-ауқат",
        "section.socioeconomic": "Әлеуметтік-экономикалық интеграция",
        "section.environment": "Қоршаған орта",
        "section.intergenerational": "Ұрпақтарға әсері",
        "section.disaggregated": "Жыныс, жас және басқа айырмашылықтар",
        "section.priorities": "Басымдықтар және реформаларды қолдау",
        "section.severity": "Қажеттіліктердің ауырлығы (JIAF негізінде)",
        "section.quotes": "Өз сөздерімен",
        "to_government": "Қазақстан Республикасының Үкіметіне",
        "to_states": "Қатысушы мемлекеттерге",
        "to_organizations": "Халықаралық ұйымдарға",
        "annex_title": "Көрсеткіштер кестелері",
        "summary_intro": (
            "Бұл жұмыс құжатында ядролық сынақтардан зардап шеккен адамдар мен олардың "
            "ұрпақтарының қажеттіліктерін бағалау нәтижелері берілген. Сауалнама {start} мен "
            "{end} аралығында жүргізілді; сұралғандар саны: {n}."
        ),
        "key_findings": "Негізгі нәтижелер:",
        "key_item": "{label}: {pct}",
        "summary_convenience": (
            "Респонденттер жергілікті қауымдастықтар арқылы табылды (ыңғайлы іріктеме): сандар "
            "сұралған адамдарды сипаттайды және барлық зардап шеккендер үшін статистикалық "
            "тұрғыдан репрезентативті емес."
        ),
        "summary_recommendations": (
            "Құжаттың соңында Шарттың 6 және 7-баптарына сәйкес зардап шеккен мемлекетке, "
            "қатысушы мемлекеттерге және халықаралық ұйымдарға ұсынымдар берілген."
        ),
        "default_introduction": (
            "{organization} бұл жұмыс құжатын қатысушы мемлекеттер кеңесінің Шарттың 6 және "
            "7-баптары бойынша жұмысына үлес ретінде ұсынады. Құжатта ядролық сынақтардан "
            "зардап шеккен адамдар мен олардың ұрпақтарының өз қажеттіліктері туралы айтқандары "
            "баяндалған."
        ),
        "default_background": (
            "Ядролық сынақтар ұрпақтан ұрпаққа маңайдағы қауымдастықтардың денсаулығына, "
            "күнкөрісіне және қоршаған ортасына зиян келтіріп келеді. Шарттың 6-бабы әрбір "
            "қатысушы мемлекетті ядролық қаруды қолданудан немесе сынаудан зардап шеккен "
            "адамдарға жасы мен жынысын ескере отырып, кемсітусіз көмек көрсетуге және ластанған "
            "аумақтарды оңалтуға міндеттейді; 7-бап мүмкіндігі бар қатысушы мемлекеттерді "
            "зардап шеккен мемлекеттерге көмектесуге шақырады."
        ),
        "m_period": (
            "Сұхбаттар {start} мен {end} аралығында жүргізілді (сауалнама кезеңі: {rounds})."
        ),
        "m_districts": (
            "Респонденттер мына аудандар мен қалаларда тұрады (барлығы {count}): {names}."
        ),
        "m_sample": (
            "Талдауға {n} респонденттің жауаптары енгізілді; олар үй шаруашылықтарының {members} "
            "мүшесі туралы да мәлімет берді. Төмендегі кестеде респонденттер аудандар мен "
            "ұрпақтар бойынша бөлінген."
        ),
        "m_sample_no_members": (
            "Талдауға {n} респонденттің жауаптары енгізілді. Төмендегі кестеде респонденттер "
            "аудандар бойынша бөлінген."
        ),
        "m_languages": "Сұхбат тілдері: {items}.",
        "m_consent": (
            "Барлық респонденттер {min_age} жастағы немесе одан үлкен болды және сауалнаманың "
            "мақсаты, қатысудың ерікті екені, оның жеңілдіктерге әсер етпейтіні және жауаптарды "
            "кейін түбіртек коды арқылы кері қайтарып алуға болатыны туралы білгеннен кейін "
            "ақпараттандырылған келісім берді. Аты-жөні, жеке сәйкестендіру нөмірлері, телефон "
            "нөмірлері, мекенжайлар мен орналасқан жері жазылмады; нәтижелер елді мекендер "
            "бойынша емес, тек аудандар бойынша беріледі."
        ),
        "m_refusals": (
            "Қатысудан бас тартқандар немесе {min_age} жасқа толмағандар: {refused}; олар туралы "
            "тек саны сақталды."
        ),
        "m_refusals_hidden": (
            "Қатысудан бас тартқандар немесе {min_age} жасқа толмағандар {k} адамнан аз; олар "
            "туралы тек саны сақталды."
        ),
        "m_refusals_none": "Қатысудан бас тарту тіркелген жоқ.",
        "m_review": "Талдауға тексеру күйі мынадай сауалнамалар енгізілді: {statuses}.",
        "m_excluded": "Басқа күйдегі сауалнамалар есепке алынбады: {excluded}.",
        "m_filters": "Құжат тек мына шарттарға сәйкес келетін респонденттерді қамтиды: {filters}.",
        "m_analysis": (
            "Үлестер — жауап бергендерге шаққандағы салмақталмаған пайыздар; «білмеймін» және "
            "«жауап бермеуді жөн көремін» деген жауаптар бөлгіштен алынып тасталды. 95 % "
            "сенімділік аралықтары Уилсон әдісімен есептелді. 30-дан аз жауапқа негізделген "
            "көрсеткіштер жұлдызшамен (*) белгіленген және шамамен алынған."
        ),
        "m_analysis_weighted": (
            "Үлестер — жауап бергендерге шаққандағы салмақталған пайыздар; «білмеймін» және "
            "«жауап бермеуді жөн көремін» деген жауаптар бөлгіштен алынып тасталды. 95 % "
            "сенімділік аралықтары тиімді іріктеме көлемі бойынша Уилсон әдісімен есептелді. "
            "30-дан аз жауапқа негізделген көрсеткіштер жұлдызшамен (*) белгіленген және шамамен "
            "алынған."
        ),
        "m_analysis_design": (
            "Үлестер мен орташа мәндер іріктеме дизайнының салмақтарымен салмақталған; "
            "«білмеймін» және «жауап бермеуді жөн көремін» деген жауаптар бөлгіштен алынып "
            "тасталды. 95 % сенімділік аралықтары іріктеме дизайнын ескереді: дисперсиялар "
            "страталар мен кластерлерді ескере отырып Тейлор сызықтандыру әдісімен бағаланды "
            "(үй шаруашылығы мүшелері үшін кластер — үй шаруашылығы), ал үлестер үшін дизайнды "
            "ескеретін тиімді іріктеме көлемі бойынша Уилсон аралықтары құрылды. 30-дан аз "
            "жауапқа негізделген көрсеткіштер жұлдызшамен (*) белгіленген және шамамен алынған."
        ),
        "m_unknown": (
            "Адам үлеске оның жауаптары оны анықтаған жағдайда ғана есептеледі: психологиялық "
            "көмек алғысы келетін, бірақ оны алған-алмағанын айтпаған адам қолдауға "
            "қанағаттандырылмаған қажеттілік көрсеткішіне кірмейді; ауырлық деңгейі (мұқтаж, "
            "аса мұқтаж) берілген жауаптар оны растаған немесе жоққа шығарған кезде ғана "
            "есептеледі, сондықтан жауапсыз қалған сұрақ ешқашан «қажеттілік жоқ» деп "
            "саналмайды. Респондентте немесе мүшелерінің біреуінде қатерлі ісік анықталса, үй "
            "шаруашылығы қатерлі ісік диагнозы бар деп саналады."
        ),
        "m_tables": (
            "Кестелерде % — жауап бергендердің үлесі, 95 % СА — оның 95 % сенімділік аралығы, "
            "n — жауап бергендер саны (сипаттама кестелерінде — санаттағы адамдар саны)."
        ),
        "m_suppression": (
            "Респонденттерді қорғау үшін {k} адамнан аз жауапқа негізделген көрсеткіштер "
            "жарияланбайды: мұндай ұяшықтар және оларды есептеп шығаруға болатын ұяшықтар «x» "
            "белгісімен көрсетілген. Дәйексөздер тек үйлестіруші мақұлдағаннан кейін "
            "жарияланады."
        ),
        "m_limitations": (
            "Шектеулер: респонденттер жергілікті қауымдастықтар арқылы табылды, сондықтан бұл — "
            "ыңғайлы іріктеме, ал нәтижелер барлық зардап шеккендер үшін статистикалық тұрғыдан "
            "репрезентативті емес. Аймақтар, диагноздар мен жеңілдіктер респонденттердің айтуы "
            "бойынша көрсетілген. Ауырлық бағалары JIAF негізінде жасалған, бірақ ресми JIAF "
            "талдауы емес."
        ),
        "m_limitations_weighted": (
            "Шектеулер: аймақтар, диагноздар мен жеңілдіктер респонденттердің айтуы бойынша "
            "көрсетілген. Ауырлық бағалары JIAF негізінде жасалған, бірақ ресми JIAF талдауы "
            "емес."
        ),
        "m_demo": (
            "Бұл сандар бағдарлама жасаған синтетикалық демо деректерден алынған; олар нақты "
            "адамдарды сипаттамайды және оларға сілтеме жасауға болмайды."
        ),
        "theme_note": "Шарттың ережелері: {themes}.",
        "proportion": "{label}: {pct} ({units}: {n}; 95 % сенімділік аралығы: {ci}).",
        "units.respondent": "жауап берген респонденттер саны",
        "units.member": "жауабы бар үй шаруашылығы мүшелерінің саны",
        "units.household": "жауаптары бойынша бұл белгілі үй шаруашылықтарының саны",
        "frequency": "{label} (жауап бергендер саны: {n}): {items}.",
        "ranking": "{label}: ең жиі алғашқы үштікке кіргендері: {items}.",
        "severity": (
            "{label}: мұқтаждар (3 және одан жоғары балл) — {in_need}, аса мұқтаждар (4 және "
            "одан жоғары балл) — {acute} (респонденттер саны: {n})."
        ),
        "mean": (
            "{label}: орташа мәні {value} (95 % сенімділік аралығы: {ci}; жауап бергендер саны: "
            "{n})."
        ),
        "median": (
            "{label}: медианасы {value} (95 % сенімділік аралығы: {ci}; жауап бергендер саны: {n})."
        ),
        "item": "{category} ({pct})",
        "disaggregated_intro": (
            "Төменде негізгі көрсеткіштер бойынша топтар арасындағы айырмашылықтар берілген; "
            "респонденттері тым аз топтар көрсетілмеген."
        ),
        "disaggregated": "{label}: {parts}.",
        "disaggregated_part": (
            "«{variable}» бойынша — ең төменгісі {low} ({low_group}), ең жоғарысы {high} "
            "({high_group})"
        ),
        "quotes_intro": (
            "Респонденттерге қатысушы мемлекеттерге не айтқысы келетінін өз сөздерімен жеткізу "
            "ұсынылды. Төмендегі жауаптар үйлестірушінің мақұлдауымен, айтылған тілінде "
            "жарияланады."
        ),
        "respondent": "Респондент",
        "recommendations_intro": (
            "Төмендегі ұсынымдар осы нәтижелерге және Шарттың 6 және 7-баптарына негізделген: "
            "зардап шеккендерге көмек және ластанған қоршаған ортаны оңалту (6-бап), сондай-ақ "
            "халықаралық ынтымақтастық пен көмек, оның ішінде ядролық қаруды қолданған немесе "
            "сынаған мемлекеттер тарапынан (7-бап)."
        ),
        "recommendations_empty": "Құжатты ұсынған ұйым әлі ұсынымдар дайындаған жоқ.",
        "col.indicator": "Көрсеткіш",
        "col.group": "Топ",
        "col.category": "Санат",
        "col.pct": "%",
        "col.ci": "95\u00a0%\u00a0СА",
        "col.n": "n",
        "col.district": "Аудан немесе қала",
        "col.total": "Барлығы",
        "row.all_districts": "Барлық аудандар",
        "row.all": "Барлық респонденттер",
        "table.section": "{section}: көрсеткіштер",
        "table.districts": "Респонденттер аудандар мен ұрпақтар бойынша",
        "table.districts_only": "Респонденттер аудандар бойынша",
        "table.by_group": "{label}: топтар бойынша",
        "chart.section": "{section}: үлес (%), 95 % сенімділік аралықтарымен",
        "chart.by_group": "{label}: «{variable}» бойынша (%)",
        "chart.alt": "Бағанды диаграмма: {caption}. {items}.",
        "chart.hidden": "көрсетілмеген",
        "note.suppressed": (
            "x: респонденттерді қорғау үшін көрсетілмеген ({k} адамнан аз немесе осындай топты "
            "есептеп шығаруға болатын көрсеткіш)."
        ),
        "note.indicative": "*: 30-дан аз жауап; шамамен алынған мән.",
        "mean_suffix": "(орташа мәні)",
        "median_suffix": "(медиана)",
        "severity.in_need": "мұқтаж (3+)",
        "severity.acute": "аса мұқтаж (4+)",
        "and": "және",
        "status.approved": "мақұлданған",
        "status.pending": "тексеруді күтуде",
        "status.on_hold": "кейінге қалдырылған",
        "status.rejected": "қабылданбаған",
        "in.kk": "қазақ тілінде",
        "in.ru": "орыс тілінде",
        "in.en": "ағылшын тілінде",
        "quote_translation": "Құжатты ұсынған ұйымның аудармасы",
    },
}

# Names of the disaggregation variables (the instrument's calculated columns have no label).
VARIABLES: dict[str, dict[str, str]] = {
    "sex": {"en": "sex", "ru": "пол", "kk": "жынысы"},
    "member_sex": {"en": "sex", "ru": "пол", "kk": "жынысы"},
    "age_band": {"en": "age group", "ru": "возрастная группа", "kk": "жас тобы"},
    "generation": {"en": "generation", "ru": "поколение", "kk": "ұрпақ"},
    "member_generation": {"en": "generation", "ru": "поколение", "kk": "ұрпақ"},
    "zone_self_reported": {
        "en": "zone (as reported)",
        "ru": "зона (со слов респондента)",
        "kk": "аймақ (респонденттің айтуы бойынша)",
    },
    "district": {"en": "district", "ru": "район", "kk": "аудан"},
    "_district": {"en": "district", "ru": "район", "kk": "аудан"},
    "urban_rural": {"en": "urban or rural", "ru": "город или село", "kk": "қала немесе ауыл"},
    "wg_disability": {
        "en": "disability (Washington Group)",
        "ru": "инвалидность (Вашингтонская группа)",
        "kk": "мүгедектік (Вашингтон тобы)",
    },
    "certificate_status": {
        "en": "test-site certificate",
        "ru": "удостоверение полигона",
        "kk": "полигон куәлігі",
    },
}

_GENERATIONS = {
    "g1": {
        "en": "First generation (G1)",
        "ru": "Первое поколение (G1)",
        "kk": "Бірінші ұрпақ (G1)",
    },
    "g2": {
        "en": "Second generation (G2)",
        "ru": "Второе поколение (G2)",
        "kk": "Екінші ұрпақ (G2)",
    },
    "g3": {"en": "Third generation (G3)", "ru": "Третье поколение (G3)", "kk": "Үшінші ұрпақ (G3)"},
    "g4": {
        "en": "Fourth generation or later (G4)",
        "ru": "Четвёртое поколение и далее (G4)",
        "kk": "Төртінші және одан кейінгі ұрпақ (G4)",
    },
    "none": {
        "en": "No family link to the tests",
        "ru": "Нет связи с испытаниями",
        "kk": "Сынақтармен байланысы жоқ",
    },
}
_SEXES = {
    "female": {"en": "Women", "ru": "Женщины", "kk": "Әйелдер"},
    "male": {"en": "Men", "ru": "Мужчины", "kk": "Ерлер"},
}
# Short group labels for tables and charts; the instrument's choice labels are used otherwise.
GROUPS: dict[str, dict[str, dict[str, str]]] = {
    "generation": _GENERATIONS,
    "member_generation": _GENERATIONS,
    "sex": _SEXES,
    "member_sex": _SEXES,
    "age_band": {
        "18_39": {"en": "18–39 years", "ru": "18–39 лет", "kk": "18–39 жас"},
        "40_59": {"en": "40–59 years", "ru": "40–59 лет", "kk": "40–59 жас"},
        "60_74": {"en": "60–74 years", "ru": "60–74 лет", "kk": "60–74 жас"},
        "75_plus": {
            "en": "75 years or older",
            "ru": "75 лет и старше",
            "kk": "75 жас және одан үлкен",
        },
    },
    "wg_disability": {
        "yes": {"en": "With a disability", "ru": "С инвалидностью", "kk": "Мүгедектігі бар"},
        "no": {"en": "Without a disability", "ru": "Без инвалидности", "kk": "Мүгедектігі жоқ"},
    },
}
# Codes every instrument shares (DOMAIN §4): "don't know" and "prefer not to answer".
SPECIAL = {
    "dnk": {"en": "Don't know", "ru": "Не знаю", "kk": "Білмеймін"},
    # Respondents who left the question unanswered: a group of the published tables
    "missing": {"en": "Not answered", "ru": "Нет ответа", "kk": "Жауап жоқ"},
    "pnta": {
        "en": "Prefer not to answer",
        "ru": "Предпочитаю не отвечать",
        "kk": "Жауап бермеуді жөн көремін",
    },
}
# Column headings of the district × generation table: short enough for a narrow column.
GENERATION_COLUMNS = {
    "g1": {"en": "G1", "ru": "G1", "kk": "G1"},
    "g2": {"en": "G2", "ru": "G2", "kk": "G2"},
    "g3": {"en": "G3", "ru": "G3", "kk": "G3"},
    "g4": {"en": "G4", "ru": "G4", "kk": "G4"},
    "none": {"en": "No link", "ru": "Нет связи", "kk": "Байланыс жоқ"},
    "dnk": {"en": "Don't know", "ru": "Не знаю", "kk": "Білмеймін"},
}
# The plan's `theme` column (English, as written in the analysis sheet) → words per language.
THEMES: dict[str, dict[str, str]] = {
    "Art. 6(1) victim assistance": {
        "en": "article 6 (1), victim assistance",
        "ru": "статья 6 (1), помощь пострадавшим",
        "kk": "6-баптың 1-тармағы, зардап шеккендерге көмек",
    },
    "Art. 6(1) medical care": {
        "en": "article 6 (1), medical care",
        "ru": "статья 6 (1), медицинская помощь",
        "kk": "6-баптың 1-тармағы, медициналық көмек",
    },
    "Art. 6(1) rehabilitation": {
        "en": "article 6 (1), rehabilitation",
        "ru": "статья 6 (1), реабилитация",
        "kk": "6-баптың 1-тармағы, оңалту",
    },
    "Art. 6(1) psychological support": {
        "en": "article 6 (1), psychological support",
        "ru": "статья 6 (1), психологическая поддержка",
        "kk": "6-баптың 1-тармағы, психологиялық қолдау",
    },
    "Art. 6(1) social and economic inclusion": {
        "en": "article 6 (1), social and economic inclusion",
        "ru": "статья 6 (1), социальная и экономическая интеграция",
        "kk": "6-баптың 1-тармағы, әлеуметтік және экономикалық интеграция",
    },
    "Art. 6(1) non-discrimination": {
        "en": "article 6 (1), non-discrimination",
        "ru": "статья 6 (1), недискриминация",
        "kk": "6-баптың 1-тармағы, кемсітпеушілік",
    },
    "Art. 6(2) environmental remediation": {
        "en": "article 6 (2), environmental remediation",
        "ru": "статья 6 (2), экологическая реабилитация",
        "kk": "6-баптың 2-тармағы, қоршаған ортаны оңалту",
    },
    "Art. 7 cooperation and assistance": {
        "en": "article 7, international cooperation and assistance",
        "ru": "статья 7, международное сотрудничество и помощь",
        "kk": "7-бап, халықаралық ынтымақтастық және көмек",
    },
}


# --- lists and units ---------------------------------------------------------------------------


def join(items: Sequence[str], language: str) -> str:
    """ "a, b and c" with the language's word for "and"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {TEXT[language]['and']} {items[-1]}"


def russian_units(key: str, value: float, texts: Mapping[str, str]) -> str:
    """The genitive after «из N»: «из 21 респондента», «из 22 респондентов»."""
    whole = round(value)
    if whole % 10 == 1 and whole % 100 != 11 and f"{key}.one" in texts:
        return texts[f"{key}.one"]
    return texts[key]
