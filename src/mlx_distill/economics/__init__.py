"""When the student may answer instead of the teacher, and what that saves (`mlx-distill gate`,
`mlx-distill economics`).

- `gate`: is the student good enough? balanced agreement with the teacher per decision class
- `router`: student first, teacher when the student's turn is unusable (a FallbackModel)
- `drift`: a sample of the student's turns also asked of the teacher; rolling agreement, warnings
- `shadow`: a capability that records each teacher run of a developer's own agent as a teacher record
- `report`: break-even of the student against the teacher, from the ledgers
"""
