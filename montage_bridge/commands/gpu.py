import typer

gpu_app = typer.Typer()
