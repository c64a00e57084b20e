"""The specialists' directory: departments (pools) and specialists, searchable by specialty."""
from .. import db
from ..api import Blueprint
from . import services
from .schemas import DepartmentSchema, DirectoryArgs, SpecialistEntrySchema, SpecialistRowSchema

blp = Blueprint("directory", __name__, url_prefix="/api/v1/directory",
                description="Hospital departments and specialists who take referrals")


@blp.route("/departments")
@blp.auth()
@blp.arguments(DirectoryArgs, location="query")
@blp.response(200, DepartmentSchema(many=True))
def list_departments(args):
    """Departments (specialty pools) by hospital and specialty."""
    return db.session().scalars(services.departments(args)).all()


@blp.route("/departments", methods=["POST"])
@blp.auth("admin")
@blp.arguments(DepartmentSchema)
@blp.response(201, DepartmentSchema)
def create_department(data):
    """Add a hospital department that takes referrals (admin)."""
    department = services.create_department(db.session(), data)
    db.session().commit()
    return department


@blp.route("/specialists")
@blp.auth()
@blp.arguments(DirectoryArgs, location="query")
@blp.response(200, SpecialistRowSchema(many=True))
def list_specialists(args):
    """Specialists with a directory entry: search by specialty, hospital, department, e-consultations."""
    return [services.entry_row(*row) for row in db.session().execute(services.specialists(args)).all()]


@blp.route("/specialists/<int:user_id>", methods=["PUT"])
@blp.auth("admin")
@blp.arguments(SpecialistEntrySchema)
@blp.response(200, SpecialistRowSchema)
def put_specialist(data, user_id):
    """Write a specialist user's directory entry (admin); their department must be in the directory."""
    session = db.session()
    entry = services.put_entry(session, user_id, data)
    session.commit()
    return services.entry_row(entry.user, entry, services.department_of(session, entry.user.hospital_id,
                                                                        entry.user.department))
