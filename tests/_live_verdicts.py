"""The live verdict table for content types per role (FACTS §5.3, R8 live report 2026-08-19).

(role, content part type sent, exact live error message); every row: code ``invalid_value``,
param ``item.content[0].type``, item not added.
"""

WRONG_CONTENT_TYPES = [
    ("user", "text", "Invalid value: 'text'. Supported values are: 'input_text' and 'input_audio'."),
    ("user", "output_text", "Invalid value: 'output_text'. Supported values are: 'input_text' and 'input_audio'."),
    ("assistant", "input_text", "Invalid value: 'input_text'. Value must be 'output_text'."),
    ("assistant", "text", "Invalid value: 'text'. Value must be 'output_text'."),
    ("system", "text", "Invalid value: 'text'. Value must be 'input_text'."),
    ("system", "output_text", "Invalid value: 'output_text'. Value must be 'input_text'."),
]
