"""Compiled JSON writers for generated base records (the hot path of list pages).

A generated record differs from its entity's constants only in the fields the generator's rules
set, and generated strings never need JSON escaping. So for one (entity, version, $select,
$expand, $custom, null style) the constants are baked into a %-template once, and the variable
fields are formatted by straight-line Python generated for that shape (no per-field calls on the
common types). The output is byte-identical to the general msgspec path; tests compare the two.
"""

from __future__ import annotations

from decimal import Decimal

from acumatica_client import catalog

from .generator import SPECS

STRINGY = {"StringValue", "GuidValue", "DateTimeValue"}
INTEGRAL = {"IntValue", "ShortValue", "LongValue", "ByteValue"}


def json_scalar(value) -> str:
    kind = type(value)
    if kind is str:
        return '"' + value + '"'  # generated strings never need escaping
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        from .render import ENCODER

        return ENCODER.encode(value).decode()
    return str(value)  # int, Decimal (2 places, never exponent form)


def wrap(value) -> str:
    return '{"value":' + json_scalar(value) + "}"


def wrap_empty(value) -> str:
    return "{}" if value is None else '{"value":' + json_scalar(value) + "}"


def _field_expr(name: str, ftype: str, n: int) -> str:
    """An expression formatting field ``name`` of ``r`` (fast branch by type, else W(v))."""
    v = f"v{n}"
    get = f'(({v} := g("{name}")).__class__'
    if ftype in STRINGY:
        return f"(Q % {v} if {get} is str) else W({v}))"
    if ftype == "DecimalValue":
        return f"(N % {v} if {get} is D) else W({v}))"
    if ftype in INTEGRAL:
        return f"(N % {v} if {get} is int) else W({v}))"
    if ftype == "BooleanValue":
        return f'(TRUE if ({v} := g("{name}")) is True else FALSE if {v} is False else W({v}))'
    return f'W(g("{name}"))'


def _custom_template(custom: list[tuple[str, str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """Template of the ``custom`` object with one %s per distinct (view, field), in output order."""
    views: dict[str, dict[str, str]] = {}
    for view, name, ctype in custom:
        views.setdefault(view, {})[name] = ctype
    pieces, order = [], []
    for view, fields in views.items():
        inner = ",".join(f'"{name}":{{"type":"{ctype}","value":%s}}' for name, ctype in fields.items())
        pieces.append(f'"{view}":{{{inner}}}')
        order.extend((view, name) for name in fields)
    return "{" + ",".join(pieces) + "}", order


def compile_page_writer(page_plan):
    """``write(rec, row) -> str`` for generated base records of ``page_plan``, or None."""
    store, entity, root = page_plan.store, page_plan.entity, page_plan.root
    gen = store.gen
    detail = SPECS[entity].detail
    if any(not is_detail for _, is_detail, _ in root.children):
        return None  # linked entities are rendered by the general path
    env = {
        "Q": '{"value":"%s"}',
        "N": '{"value":%s}',
        "D": Decimal,
        "TRUE": '{"value":true}',
        "FALSE": '{"value":false}',
        "W": wrap_empty if page_plan.empty_nulls else wrap,
        "JS": json_scalar,
        "E": {},
        "LINES": store.lines,
        "ENTITY": entity,
        "LINKS": page_plan.links,
    }
    counter = [0]

    def object_source(
        fn: str,
        plan,
        constants: dict,
        variable: set[str],
        children: list[tuple[str, str | None]],
        tail: str,
        tail_args: list[str],
    ) -> list[str]:
        """Source of ``fn(r, row)``: the object's JSON, children given as expressions."""
        fields = catalog.fields(page_plan.version, plan.type_name)
        pieces, exprs = [], []
        for name in plan.scalars:
            if name in variable or name not in constants:
                pieces.append(f',"{name}":%s')
                counter[0] += 1
                exprs.append(_field_expr(name, fields[name], counter[0]))
            else:
                pieces.append((f',"{name}":' + env["W"](constants[name])).replace("%", "%%"))
        custom_tmpl, custom_order = _custom_template(plan.custom)
        custom_expr = '"{}"'
        if custom_order:
            env[fn + "_C"] = custom_tmpl
            values = ", ".join(f'JS(c.get("{view}", E).get("{name}"))' for view, name in custom_order)
            custom_expr = f"{fn}_C % ({values},)"
        env[fn + "_T"] = (
            '{"id":"%s","rowNumber":%d,"note":{"value":""}'
            + "".join(pieces)
            + "".join(p for p, _ in children)
            + ',"custom":%s'
            + tail
            + "}"
        )
        args = ["r['id']", "row", *exprs, *(e for _, e in children if e), custom_expr, *tail_args]
        return [
            f"def {fn}(r, row):",
            "    g = r.get",
            "    c = r.get('custom') or E",
            f"    return {fn}_T % ({', '.join(args)},)",
        ]

    src: list[str] = []
    children = []
    for name, _, sub in root.children:
        if name == detail and sub is not None:
            src += object_source(
                "line", sub, gen.constant(entity, True), gen.line_variable[entity], [], "", []
            )
            children.append(
                (f',"{name}":[%s]', '",".join([line(x, j) for j, x in enumerate(LINES(ENTITY, r), 1)])')
            )
        else:  # other detail arrays are empty in generated data
            children.append((f',"{name}":[]', None))
    src += object_source(
        "write",
        root,
        gen.constant(entity),
        gen.variable[entity],
        children,
        ',"_links":{"self":"%s%s"}',
        ["LINKS", "r['id']"],
    )
    exec(compile("\n".join(src), f"<page writer {entity}>", "exec"), env)
    return env["write"]


#: Marks the header's rowNumber in a fused layout (its other slots are positions in the rule output).
ROW = -1


def fused_layout(page_plan, fields, customs) -> list[str | int] | None:
    """The JSON of one base record of ``page_plan`` as constant text and slots, or None if a
    fused rule cannot fill it. A slot is a position in the rule's flat output (see ``fused``) or
    ``ROW``; kind "s" slots are quoted here. Shared by the per-record and the bulk writers."""
    store, entity, root = page_plan.store, page_plan.entity, page_plan.root
    gen = store.gen
    detail = SPECS[entity].detail
    if any(not is_detail for _, is_detail, _ in root.children):
        return None
    w = wrap_empty if page_plan.empty_nulls else wrap
    shapes = {"s": ('{"value":"', '"}'), "n": ('{"value":', "}"), "w": ("", "")}

    def object_layout(plan, constants, variable, spec, custom_spec, base, row, children, tail):
        out: list = ['{"id":"', base, '","rowNumber":', row, ',"note":{"value":""}']
        for name in plan.scalars:
            if name in variable or name not in constants:
                if name not in spec:
                    return None  # the fused rule does not know this field
                n, kind = spec[name]
                before, after = shapes[kind]
                out += [f',"{name}":' + before, base + n, after]
            else:
                out.append(f',"{name}":' + w(constants[name]))
        for child in children:
            if child is None:
                return None
            out += child
        custom_tmpl, custom_order = _custom_template(plan.custom)
        pieces = custom_tmpl.split("%s")
        out.append(',"custom":' + pieces[0])
        for key, piece in zip(custom_order, pieces[1:], strict=True):
            out.append(base + len(spec) + custom_spec[key] if key in custom_spec else "null")
            out.append(piece)
        out += tail
        out.append("}")
        return out

    header_size = len(fields[0]) + len(customs[0])
    line_size = len(fields[1]) + len(customs[1])
    children = []
    for name, _, sub in root.children:
        if name == detail and sub is not None:
            lines = [
                object_layout(
                    sub,
                    gen.constant(entity, True),
                    gen.line_variable[entity],
                    fields[1],
                    customs[1],
                    header_size + j * line_size,
                    str(j + 1),
                    [],
                    [],
                )
                for j in range(gen.lines)
            ]
            if None in lines:
                children.append(None)
            else:
                child = [f',"{name}":[']
                for j, line in enumerate(lines):
                    child += ([","] if j else []) + line
                children.append([*child, "]"])
        else:
            children.append([f',"{name}":[]'])
    layout = object_layout(
        root,
        gen.constant(entity),
        gen.variable[entity],
        fields[0],
        customs[0],
        0,
        ROW,
        children,
        [',"_links":{"self":"' + page_plan.links, 0, '"}'],
    )
    if layout is None:
        return None
    merged: list[str | int] = []  # adjacent constants joined
    for item in layout:
        if isinstance(item, str) and merged and isinstance(merged[-1], str):
            merged[-1] += item
        else:
            merged.append(item)
    return merged


def compile_fused_writer(page_plan, rule, fields, customs):
    """``write(rec, row) -> str`` from a fused rule (see ``fused``), or None if it cannot serve
    this plan. Only base records (with ``_i``) are written; the rule is called with that index."""
    layout = fused_layout(page_plan, fields, customs)
    if layout is None:
        return None
    template = "".join(
        item.replace("%", "%%") if isinstance(item, str) else "%d" if item == ROW else "%s" for item in layout
    )
    exprs = ["row" if item == ROW else f"f[{item}]" for item in layout if not isinstance(item, str)]
    env = {"RULE": rule, "NULL": "{}" if page_plan.empty_nulls else '{"value":null}', "T": template}
    src = ["def write(r, row):", "    f = RULE(r['_i'], NULL)", f"    return T % ({', '.join(exprs)},)"]
    exec(compile("\n".join(src), f"<fused writer {page_plan.entity}>", "exec"), env)
    return env["write"]
